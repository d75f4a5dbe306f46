%% Fan-in latency: twin of bench/savina/fan_in_latency.cpp. S senders send
%% M timestamped messages each to one receiver, keeping at most `window`
%% unacknowledged; the receiver records now - timestamp for every message
%% (send-to-handle latency). Messages and acknowledgements are numbered per
%% sender, and each side checks the numbers come in order, so a message
%% lost, repeated or answered to the wrong sender fails the run.
-module(savina_fan_in_latency).
-export([params/0, unit/0, process_flags/0, run/2]).

params() -> ["senders", "messages", "window"].
unit() -> "msg/s".
%% The receiver is the many-senders process off_heap exists for. Latencies
%% go into an atomics array, not the receiver's heap: millions of samples
%% on the heap would be copied by every collection inside the timed window.
process_flags() -> [{"receiver", "message_queue_data=off_heap"}].

run(#{"senders" := S, "messages" := M, "window" := Window0}, Fault) ->
    Window = max(1, Window0),
    Main = self(),
    Latencies = atomics:new(max(1, S * M), [{signed, true}]),
    Receiver = spawn_opt(fun() -> receiver(Latencies, S * M, 0, 0) end, [link, {message_queue_data, off_heap}]),
    Senders = [spawn_link(fun() -> sender_wait(Main, Receiver, Id, M, Window) end) || Id <- lists:seq(0, S - 1)],
    Start = savina_check:now_ns(),
    [Pid ! {start, Fault} || Pid <- Senders],
    [savina_check:await(sender_done) || _ <- Senders],
    Elapsed = savina_check:elapsed_s(Start),
    savina_check:quiesce(),
    savina_check:no_strays(),
    {Handled, OutOfOrder} = savina_check:call(Receiver, report),
    savina_check:check(Handled =:= S * M, "receiver handled ~b messages, expected ~b", [Handled, S * M]),
    savina_check:check(OutOfOrder =:= 0, "receiver got ~b messages out of their sender's order", [OutOfOrder]),
    lists:foreach(
      fun(Pid) ->
              {Acked, Wrong} = savina_check:call(Pid, report),
              savina_check:check(Acked =:= M andalso Wrong =:= 0,
                                 "a sender got ~b acknowledgements (~b out of order), expected ~b", [Acked, Wrong, M])
      end, Senders),
    Samples = [atomics:get(Latencies, I) || I <- lists:seq(1, S * M)],
    #{elapsed_s => Elapsed, messages => 2 * S * M, items => 2 * S * M, latencies_ns => Samples}.

sender_wait(Main, Receiver, Id, M, Window) ->
    receive
        {start, Fault} ->
            First = min(Window, M),
            %% Sender 0's first message is the one a fault is injected into.
            case Id of
                0 -> savina_check:send(Fault, Receiver, {data, savina_check:now_ns(), self(), 1});
                _ -> Receiver ! {data, savina_check:now_ns(), self(), 1}
            end,
            [Receiver ! {data, savina_check:now_ns(), self(), Seq} || Seq <- lists:seq(2, First)],
            sender(Main, Receiver, M, First, 0, 0)
    end.

sender(Main, Receiver, M, Sent, Acked, Wrong) ->
    receive
        {ack, Seq} ->
            Wrong1 = case Seq =:= Acked + 1 of true -> Wrong; false -> Wrong + 1 end,
            if
                Acked + 1 =:= M ->
                    Main ! {sender_done, self()},
                    sender(Main, Receiver, M, Sent, Acked + 1, Wrong1);
                Sent < M ->
                    Receiver ! {data, savina_check:now_ns(), self(), Sent + 1},
                    sender(Main, Receiver, M, Sent + 1, Acked + 1, Wrong1);
                true -> sender(Main, Receiver, M, Sent, Acked + 1, Wrong1)
            end;
        {report, From, Ref} ->
            From ! {Ref, {Acked, Wrong}},
            sender(Main, Receiver, M, Sent, Acked, Wrong)
    end.

%% Per-sender order lives in the process dictionary: the last number seen
%% from each sender, one hash lookup per message.
receiver(Latencies, Capacity, Handled, OutOfOrder) ->
    receive
        {data, SentNs, From, Seq} ->
            Index = Handled + 1,
            %% A duplicate beyond the expected count is counted, not stored.
            Index =< Capacity andalso atomics:put(Latencies, Index, savina_check:now_ns() - SentNs),
            Previous = case get(From) of undefined -> 0; P -> P end,
            put(From, Seq),
            From ! {ack, Seq},
            receiver(Latencies, Capacity, Index, case Seq =:= Previous + 1 of true -> OutOfOrder; false -> OutOfOrder + 1 end);
        {report, From, Ref} ->
            From ! {Ref, {Handled, OutOfOrder}},
            receiver(Latencies, Capacity, Handled, OutOfOrder)
    end.
