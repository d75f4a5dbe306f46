%% Fork-join throughput: twin of the first half of bench/savina/fork_join.cpp.
%% The measuring process sends N numbered messages to each of A actors;
%% each message costs tiny_compute (sin(theta)^2, Savina's
%% performComputation). Each actor checks that the numbers arrive 1, 2, ...
%% in order (one sender, so FIFO), reports when it has N, and keeps
%% counting after, so a late duplicate is seen.
-module(savina_fork_join_throughput).
-export([params/0, unit/0, process_flags/0, run/2]).

params() -> ["messages", "actors"].
unit() -> "msg/s".
%% The measuring process outruns the actors, so their messages queue up;
%% off_heap keeps that backlog out of their heaps and their collections
%% (100,000 x 60: 4.9 s against 6.7 s on-heap, one run each, load 15).
process_flags() -> [{"actor", "message_queue_data=off_heap"}].

%% Savina's argument to performComputation. Passed in, not written at the
%% call: the compiler folds math:sin of a constant.
-define(THETA, 37.2).

run(#{"messages" := N, "actors" := A}, Fault) ->
    Main = self(),
    Actors = [spawn_opt(fun() -> actor(Main, N, ?THETA, 0, 0.0, 0) end, [link, {message_queue_data, off_heap}])
              || _ <- lists:seq(1, A)],
    Start = savina_check:now_ns(),
    [First | Rest] = Actors,
    %% The first message to the first actor is the one a fault is injected into.
    savina_check:send(Fault, First, {work, 1}),
    [Pid ! {work, 1} || Pid <- Rest],
    send_rounds(Actors, 2, N),
    await_all(A),
    Elapsed = savina_check:elapsed_s(Start),
    savina_check:quiesce(),
    Reports = [savina_check:call(Pid, report) || Pid <- Actors],
    Wrong = [R || R = {Count, Sink, OutOfOrder} <- Reports, Count =/= N orelse OutOfOrder =/= 0 orelse not (Sink > 0)],
    savina_check:check(Wrong =:= [], "~b actors did not get exactly ~b messages in order: ~P",
                       [length(Wrong), N, Wrong, 10]),
    #{elapsed_s => Elapsed, messages => N * A, items => N * A}.

send_rounds(_Actors, I, N) when I > N -> ok;
send_rounds(Actors, I, N) ->
    send_round(Actors, {work, I}),
    send_rounds(Actors, I + 1, N).

send_round([], _Message) -> ok;
send_round([Pid | Rest], Message) -> Pid ! Message, send_round(Rest, Message).

await_all(0) -> ok;
await_all(Left) -> savina_check:await(actor_done), await_all(Left - 1).

%% Sink keeps tiny_compute's result live; OutOfOrder counts numbers that
%% were not the next one.
actor(Main, N, Theta, Count, Sink, OutOfOrder) ->
    receive
        {work, I} ->
            S = math:sin(Theta),
            Sink1 = Sink + S * S,
            Wrong = case I =:= Count + 1 of true -> OutOfOrder; false -> OutOfOrder + 1 end,
            case Count + 1 =:= N of
                true -> Main ! {actor_done, self()};
                false -> ok
            end,
            actor(Main, N, Theta, Count + 1, Sink1, Wrong);
        {report, From, Ref} ->
            From ! {Ref, {Count, Sink, OutOfOrder}},
            actor(Main, N, Theta, Count, Sink, OutOfOrder)
    end.
