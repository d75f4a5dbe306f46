%% Fork-join creation: twin of the second half of bench/savina/fork_join.cpp.
%% Create N processes; each handles one numbered message (tiny_compute) and
%% ends. As in the C++ versions a shared atomic counts down, and the last
%% process tells the measuring one; a second atomic sums the numbers, so a
%% process that ran twice, or a message that went to the wrong process, is
%% caught. A process handles whatever else is already in its mailbox before
%% it ends, so a duplicate is counted rather than dropped with the mailbox.
%%
%% The created processes are spawned, not linked: a link makes each normal
%% exit an exit signal the spawner must handle, which took 36 s instead of
%% 0.8 s at 100,000 processes on the 2-core machine. A created process that
%% crashes still fails the run: its number is never counted down, and the
%% stall detector reports the missing completion.
-module(savina_fork_join_creation).
-export([params/0, unit/0, process_flags/0, run/2]).

params() -> ["actors", "spawn_from_actor"].
unit() -> "actors/s".
process_flags() -> [].

-define(THETA, 37.2).
-define(LEFT, 1).
-define(SUM, 2).
-define(HANDLED, 3).

run(#{"actors" := N, "spawn_from_actor" := FromActor}, Fault) ->
    Main = self(),
    Counters = atomics:new(3, [{signed, true}]),
    atomics:put(Counters, ?LEFT, N),
    Start = savina_check:now_ns(),
    case FromActor of
        0 -> spawn_all(1, N, Main, Counters, Fault);
        _ ->
            Spawner = spawn_link(fun() -> receive start -> spawn_all(1, N, Main, Counters, Fault) end end),
            Spawner ! start
    end,
    savina_check:await(all_ran),
    Elapsed = savina_check:elapsed_s(Start),
    savina_check:quiesce(),
    savina_check:no_strays(),
    Handled = atomics:get(Counters, ?HANDLED),
    Sum = atomics:get(Counters, ?SUM),
    savina_check:check(Handled =:= N, "~b messages were handled, expected ~b", [Handled, N]),
    savina_check:check(Sum =:= N * (N + 1) div 2, "the handled numbers sum to ~b, expected ~b",
                       [Sum, N * (N + 1) div 2]),
    #{elapsed_s => Elapsed, messages => N, items => N}.

spawn_all(I, N, _Main, _Counters, _Fault) when I > N -> ok;
spawn_all(1, N, Main, Counters, Fault) ->
    %% The first process's message is the one a fault is injected into.
    Pid = spawn(fun() -> created(Main, Counters, ?THETA) end),
    savina_check:send(Fault, Pid, {work, 1}),
    spawn_all(2, N, Main, Counters, Fault);
spawn_all(I, N, Main, Counters, Fault) ->
    Pid = spawn(fun() -> created(Main, Counters, ?THETA) end),
    Pid ! {work, I},
    spawn_all(I + 1, N, Main, Counters, Fault).

created(Main, Counters, Theta) ->
    receive
        {work, I} ->
            handle(Main, Counters, Theta, I),
            drain(Main, Counters, Theta)
    end.

drain(Main, Counters, Theta) ->
    receive
        {work, I} -> handle(Main, Counters, Theta, I), drain(Main, Counters, Theta)
    after 0 -> ok
    end.

handle(Main, Counters, Theta, I) ->
    S = math:sin(Theta),
    true = S * S >= 0.0,
    atomics:add(Counters, ?SUM, I),
    atomics:add(Counters, ?HANDLED, 1),
    case atomics:sub_get(Counters, ?LEFT, 1) of
        0 -> Main ! {all_ran, ok};
        _ -> ok
    end.
