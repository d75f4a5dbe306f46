// volley/volley.hpp — the umbrella header: everything a user of the engine needs.
#pragma once

#include <volley/engine/actor.hpp>
#include <volley/engine/actor_ref.hpp>
#include <volley/engine/ask.hpp>
#include <volley/engine/ask_from_actor.hpp>
#include <volley/engine/clock.hpp>
#include <volley/engine/config.hpp>
#include <volley/engine/context.hpp>
#include <volley/engine/dead_letters.hpp>
#include <volley/engine/fsm.hpp>
#include <volley/engine/mailbox.hpp>
#include <volley/engine/messages.hpp>
#include <volley/engine/reply.hpp>
#include <volley/engine/result.hpp>
#include <volley/engine/router.hpp>
#include <volley/engine/scatter_gather.hpp>
#include <volley/engine/supervision.hpp>
#include <volley/engine/system.hpp>
#include <volley/engine/tail_chopping.hpp>
#include <volley/engine/task.hpp>
#include <volley/engine/test_probe.hpp>
#include <volley/engine/timers.hpp>
#include <volley/engine/watch.hpp>
