%% Logistic map: twin of bench/savina/logistic_map.cpp. S series processes
%% each compute T terms of x <- r x (1 - x). For every term the measuring
%% process tells each series to advance; the series asks its own
%% rate-computer process for the next term and waits for the answer before
%% it handles anything else (Savina's blocking ask). The last terms must
%% equal a plain loop, and every series and computer must have handled
%% exactly T requests.
%%
%% The blocking ask waits on a reference made just before the request:
%% `receive {Ref, _}`. The compiler and emulator then skip every message
%% that was already queued (here, the series' backlog of `next`), so the
%% wait costs O(1) instead of a scan of the backlog per term, the trap CAF's
%% await falls into (see the CAF twin).
-module(savina_logistic_map).
-export([params/0, unit/0, process_flags/0, run/2, last_term/3]).

params() -> ["terms", "series", "start_rate", "increment"].
unit() -> "msg/s".
%% The measuring process queues all T `next` messages at once: off_heap
%% keeps that backlog out of the series' heaps and their collections.
process_flags() -> [{"series", "message_queue_data=off_heap"}].

run(#{"terms" := T, "series" := S, "start_rate" := StartRate, "increment" := Increment}, Fault) ->
    Series = [begin
                  Rate = StartRate + I * Increment,
                  Computer = spawn_link(fun() -> computer(Rate, 0) end),
                  spawn_opt(fun() -> series(Computer, start(I, S), 0) end, [link, {message_queue_data, off_heap}])
              end || I <- lists:seq(0, S - 1)],
    Start = savina_check:now_ns(),
    [First | Rest] = Series,
    %% The first `next` to the first series is the message a fault is injected into.
    savina_check:send(Fault, First, next),
    [Pid ! next || Pid <- Rest],
    send_rounds(Series, T - 1),
    Refs = [begin Ref = make_ref(), Pid ! {get_result, self(), Ref}, Ref end || Pid <- Series],
    Results = [savina_check:await(Ref) || Ref <- Refs],
    Elapsed = savina_check:elapsed_s(Start),
    savina_check:quiesce(),
    savina_check:no_strays(),
    lists:foreach(
      fun({I, {Term, Steps, Computer}}) ->
              Computed = savina_check:call(Computer, report),
              savina_check:check(Steps =:= T andalso Computed =:= T,
                                 "series ~b took ~b steps (its computer ~b), expected ~b", [I, Steps, Computed, T]),
              Expected = last_term(start(I, S), StartRate + I * Increment, T),
              savina_check:check(abs(Term - Expected) =< 1.0e-9, "series ~b ended at ~.17g, expected ~.17g",
                                 [I, Term, Expected])
      end, lists:zip(lists:seq(0, S - 1), Results)),
    #{elapsed_s => Elapsed, messages => 3 * T * S + 2 * S, items => 3 * T * S + 2 * S}.

start(I, S) -> (I + 1) / (S + 1).

%% The sequential answer (reference_answers.cpp's logistic_map_last_term).
last_term(X, _Rate, 0) -> X;
last_term(X, Rate, Terms) -> last_term(Rate * X * (1 - X), Rate, Terms - 1).

send_rounds(_Series, 0) -> ok;
send_rounds(Series, Left) ->
    [Pid ! next || Pid <- Series],
    send_rounds(Series, Left - 1).

series(Computer, Term, Steps) ->
    receive
        next ->
            Ref = make_ref(),
            Computer ! {compute, Term, self(), Ref},
            receive
                {Ref, Next} -> series(Computer, Next, Steps + 1)
            end;
        {get_result, From, Ref} ->
            %% Queued behind every `next`, so it answers after the last term.
            From ! {Ref, {Term, Steps, Computer}},
            series(Computer, Term, Steps)
    end.

computer(Rate, Computed) ->
    receive
        {compute, X, From, Ref} ->
            From ! {Ref, Rate * X * (1 - X)},
            computer(Rate, Computed + 1);
        {report, From, Ref} ->
            From ! {Ref, Computed},
            computer(Rate, Computed)
    end.
