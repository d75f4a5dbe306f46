%% Fibonacci: twin of bench/savina/fibonacci.cpp. One process per recursive
%% call: a process asked for fib(N) with N =< 2 answers 1; otherwise it
%% spawns two children, asks them for fib(N - 1) and fib(N - 2), answers
%% the sum and ends. The tree has 2 fib(N) - 1 processes, each spawned by
%% its parent.
%%
%% Checks as on volley and CAF: the root's answer equals fib(N); every
%% answer names the N it answers, and a parent takes exactly one answer for
%% N - 1 and one for N - 2; a second request, an unexpected answer, or a
%% message still in a process's mailbox when it ends is counted as wrong;
%% every process of the tree runs exactly once (a shared counter). The
%% children are spawned, not linked, as in fork-join creation: a crash
%% leaves its parent waiting, which the stall detector reports.
-module(savina_fibonacci).
-export([params/0, unit/0, process_flags/0, run/2]).

params() -> ["n"].
unit() -> "actors/s".
process_flags() -> [].

-define(RAN, 1).
-define(WRONG, 2).

run(#{"n" := N}, Fault) ->
    Main = self(),
    Counters = atomics:new(2, [{signed, true}]),
    Root = spawn(fun() -> fib({main, Main}, Counters, Fault) end),
    Start = savina_check:now_ns(),
    Root ! {request, N},
    Value = savina_check:await(fib_done),
    Elapsed = savina_check:elapsed_s(Start),
    savina_check:quiesce(),
    savina_check:no_strays(),
    Expected = fib_number(N),
    Actors = 2 * Expected - 1,
    Ran = atomics:get(Counters, ?RAN),
    Wrong = atomics:get(Counters, ?WRONG),
    savina_check:check(Value =:= Expected, "fib(~b) = ~b, expected ~b", [N, Value, Expected]),
    savina_check:check(Wrong =:= 0, "~b requests or answers reached a process that did not expect them", [Wrong]),
    savina_check:check(Ran =:= Actors, "~b processes ran, ~b were created", [Ran, Actors]),
    #{elapsed_s => Elapsed, messages => 2 * Actors, items => Actors}.

%% fib(N) with fib(1) = fib(2) = 1, by a loop (reference_answers.cpp).
fib_number(N) -> fib_number(N, 0, 1).
fib_number(1, _Previous, Current) -> Current;
fib_number(N, Previous, Current) -> fib_number(N - 1, Current, Previous + Current).

%% The root's first request to its child is the message a fault is injected
%% into (Fault is none for every other process): a copy reaches a living
%% process, which still waits for its own children.
fib(Parent, Counters, Fault) ->
    receive
        {request, N} ->
            atomics:add(Counters, ?RAN, 1),
            case N =< 2 of
                true -> answer(Parent, N, 1, Counters);
                false ->
                    Self = self(),
                    First = spawn(fun() -> fib(Self, Counters, none) end),
                    Second = spawn(fun() -> fib(Self, Counters, none) end),
                    savina_check:send(Fault, First, {request, N - 1}),
                    Second ! {request, N - 2},
                    wait(Parent, N, Counters, false, false, 0)
            end
    end.

wait(Parent, N, Counters, true, true, Sum) -> answer(Parent, N, Sum, Counters);
wait(Parent, N, Counters, HaveFirst, HaveSecond, Sum) ->
    receive
        {response, M, Value} when M =:= N - 1, not HaveFirst ->
            wait(Parent, N, Counters, true, HaveSecond, Sum + Value);
        {response, M, Value} when M =:= N - 2, not HaveSecond ->
            wait(Parent, N, Counters, HaveFirst, true, Sum + Value);
        _Unexpected ->
            atomics:add(Counters, ?WRONG, 1),
            wait(Parent, N, Counters, HaveFirst, HaveSecond, Sum)
    end.

answer({main, Main}, _N, Value, Counters) ->
    Main ! {fib_done, Value},
    drain(Counters);
answer(Parent, N, Value, Counters) ->
    Parent ! {response, N, Value},
    drain(Counters).

%% A message already waiting when the process ends (a second request) is
%% counted, not dropped with the mailbox.
drain(Counters) ->
    receive
        _Late -> atomics:add(Counters, ?WRONG, 1), drain(Counters)
    after 0 -> ok
    end.
