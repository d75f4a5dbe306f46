// volley/remote/detail/intrusive_mpsc.hpp — forwarding header, kept so code
// written against the transport's old private copy still compiles. The queue
// is volley::queues::handoff_mpsc now (volley/queues/handoff_mpsc.hpp), one
// implementation shared with the queue tests and the exhaustive checker.
// New code includes that header; this one can go once nothing names it.
#pragma once

#include <volley/queues/handoff_mpsc.hpp>

namespace volley::remote::detail {

using mpsc_node = queues::mpsc_node;
using intrusive_mpsc = queues::handoff_mpsc;

}  // namespace volley::remote::detail
