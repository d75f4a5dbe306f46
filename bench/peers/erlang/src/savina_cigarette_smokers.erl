%% Cigarette smokers: twin of bench/savina/cigarette_smokers.cpp. An arbiter
%% runs Rounds rounds: each draws a smoker and a smoking time (splitmix64
%% seeded Rounds x Smokers: below(Smokers), below(1000) + 10) and tells that
%% smoker to start; the smoker tells the arbiter it has started, which
%% begins the next round, then smokes (savina_work:busy_wait/1).
%%
%% Checks as in C++: the arbiter accepts only the "started" of the round in
%% progress from the smoker it chose (anything else is counted as wrong);
%% the smokers smoked Rounds times in all, read once the system is quiet.
-module(savina_cigarette_smokers).
-export([params/0, unit/0, process_flags/0, run/2]).

params() -> ["rounds", "smokers"].
unit() -> "msg/s".
process_flags() -> [].

-define(SMOKING_TIME_RANGE, 1000).
-define(SMOKED, 1).
-define(WRONG, 2).
-define(WORK, 3).

run(#{"rounds" := Rounds, "smokers" := S}, Fault) ->
    Main = self(),
    Counts = atomics:new(3, [{signed, true}]),
    Arbiter = spawn_link(fun() -> arbiter_wait(Main, Rounds, S, Counts, Fault) end),
    Smokers = list_to_tuple([spawn_link(fun() -> smoker(Arbiter, Id, Counts) end) || Id <- lists:seq(0, S - 1)]),
    Arbiter ! {init, Smokers},
    Start = savina_check:now_ns(),
    Arbiter ! start,
    savina_check:await(finished),
    Elapsed = savina_check:elapsed_s(Start),
    savina_check:quiesce(),
    savina_check:no_strays(),
    Wrong = atomics:get(Counts, ?WRONG),
    Smoked = atomics:get(Counts, ?SMOKED),
    savina_check:check(Wrong =:= 0, "~b smokers started a round that was not theirs", [Wrong]),
    savina_check:check(Smoked =:= Rounds, "the smokers smoked ~b times in ~b rounds", [Smoked, Rounds]),
    #{elapsed_s => Elapsed, messages => 2 * Rounds, items => 2 * Rounds}.

arbiter_wait(Main, Rounds, S, Counts, Fault) ->
    receive
        {init, Smokers} ->
            receive
                start ->
                    R = savina_random:new(Rounds * S),
                    {Chosen, R1} = next_round(Smokers, 1, R, Fault),
                    arbiter(Main, Rounds, Smokers, Counts, 1, Chosen, R1)
            end
    end.

%% The first round's call is the message a fault is injected into.
next_round(Smokers, Round, R, Fault) ->
    {Chosen, R1} = savina_random:below(R, tuple_size(Smokers)),
    {Time, R2} = savina_random:below(R1, ?SMOKING_TIME_RANGE),
    Message = {smoke, Round, Time + 10},
    case Round of
        1 -> savina_check:send(Fault, element(Chosen + 1, Smokers), Message);
        _ -> element(Chosen + 1, Smokers) ! Message
    end,
    {Chosen, R2}.

arbiter(Main, Rounds, Smokers, Counts, Round, Chosen, R) ->
    receive
        {started, Round, Chosen} when Round =:= Rounds ->
            Main ! {finished, ok},
            arbiter(Main, Rounds, Smokers, Counts, Round + 1, none, R);
        {started, Round, Chosen} ->
            {Next, R1} = next_round(Smokers, Round + 1, R, none),
            arbiter(Main, Rounds, Smokers, Counts, Round + 1, Next, R1);
        {started, _OtherRound, _Smoker} ->
            atomics:add(Counts, ?WRONG, 1),
            arbiter(Main, Rounds, Smokers, Counts, Round, Chosen, R)
    end.

smoker(Arbiter, Id, Counts) ->
    receive
        {smoke, Round, Time} ->
            atomics:add(Counts, ?SMOKED, 1),
            Arbiter ! {started, Round, Id},
            atomics:add(Counts, ?WORK, savina_work:busy_wait(Time)),
            smoker(Arbiter, Id, Counts)
    end.
