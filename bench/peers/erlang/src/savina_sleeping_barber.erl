%% Sleeping barber: twin of bench/savina/sleeping_barber.cpp. A factory
%% process creates Haircuts customers one after another, sends each into the
%% waiting room with its arrival step and busy-waits
%% savina_work:busy_wait(below(ArrivalRate) + 10) steps between arrivals.
%% The room keeps the barber's timetable on that virtual clock, as
%% savina::barber_shop does in C++ (bench/savina/common/include/volley/
%% savina/barber_shop.hpp): a first arrival at step T is turned away when
%% Capacity seated customers have not started by T, else seated, and told to
%% wait when his haircut starts after T; a turned-away customer goes back to
%% the factory, which sends him in again, and he takes the next seat that
%% frees (in the order they were turned away); the barber naps before a
%% haircut that starts after the last one ended. The room draws each
%% haircut's length when it seats the customer and hands the cuts out one at
%% a time in seating order; the barber busy-waits that many steps.
%% splitmix64 draws: factory seed 1, room seed 2, as in C++, so every
%% runtime turns away the same customers.
%%
%% Checks as in C++: every customer is served exactly once; a customer is
%% started before it is done, once, and never turned away once seated;
%% customers arrive in order and only a turned-away one comes back, once;
%% the barber cut Haircuts times and received every nap the room sent; the
%% room saw one entry per customer plus one per return, and turned away as
%% many as came back. The counts go into the result's details, and
%% bench_barber_same_work_test checks they equal volley's and CAF's. Counts
%% live in atomics and are read once the system is quiet; a customer handles
%% what is already in its mailbox before it ends, so a late duplicate is
%% counted.
-module(savina_sleeping_barber).
-export([params/0, unit/0, process_flags/0, run/2]).

params() -> ["haircuts", "waiting_room", "arrival_rate", "haircut_rate"].
unit() -> "haircuts/s".
process_flags() -> [].

-define(HAIRCUTS, 1).
-define(NAPS, 2).
-define(ENTRIES, 3).
-define(TURNED_AWAY, 4).
-define(TOLD_TO_WAIT, 5).
-define(RETURNS, 6).
-define(WRONG, 7).
-define(WORK, 8).
-define(ROOM_NAPS, 9).
-define(ARRIVAL_STEPS, 10).
-define(HAIRCUT_STEPS, 11).

run(#{"haircuts" := N, "waiting_room" := Capacity, "arrival_rate" := ArrivalRate,
      "haircut_rate" := HaircutRate}, Fault) ->
    Main = self(),
    Counts = atomics:new(11, [{signed, true}]),
    Barber = spawn_link(fun() -> barber_wait(Counts) end),
    Room = spawn_link(fun() -> room(new_shop(Capacity, N, HaircutRate, Barber, Counts)) end),
    Barber ! {init, Room},
    Factory = spawn_link(fun() -> factory_wait(Main, Room, N, ArrivalRate, Counts, Fault) end),
    Start = savina_check:now_ns(),
    Factory ! start,
    savina_check:await(all_served),
    Elapsed = savina_check:elapsed_s(Start),
    savina_check:quiesce(),
    savina_check:no_strays(),
    Get = fun(I) -> atomics:get(Counts, I) end,
    Returns = Get(?RETURNS),
    savina_check:check(Get(?WRONG) =:= 0, "~b customers were started, done, turned away, served "
                       "or came back out of turn", [Get(?WRONG)]),
    savina_check:check(Get(?HAIRCUTS) =:= N, "the barber cut ~b times for ~b customers", [Get(?HAIRCUTS), N]),
    savina_check:check(Get(?TURNED_AWAY) =:= Returns, "~b customers were turned away, ~b came back",
                       [Get(?TURNED_AWAY), Returns]),
    savina_check:check(Get(?ENTRIES) =:= N + Returns, "the room saw ~b entries for ~b customers and ~b returns",
                       [Get(?ENTRIES), N, Returns]),
    savina_check:check(Get(?NAPS) =:= Get(?ROOM_NAPS), "the barber napped ~b times, the room sent ~b",
                       [Get(?NAPS), Get(?ROOM_NAPS)]),
    %% 6 per haircut (enter, cut, start, done, next, served), 3 per customer
    %% turned away (full, returned, enter), every wait and nap.
    Messages = 6 * N + 3 * Returns + Get(?TOLD_TO_WAIT) + Get(?NAPS),
    %% Throughput counts haircuts.
    #{elapsed_s => Elapsed, messages => Messages, items => N,
      details => [{"turned_away", Get(?TURNED_AWAY)}, {"told_to_wait", Get(?TOLD_TO_WAIT)},
                  {"barber_naps", Get(?NAPS)}, {"arrival_steps", Get(?ARRIVAL_STEPS)},
                  {"haircut_steps", Get(?HAIRCUT_STEPS)}]}.

add(Counts, I) -> atomics:add(Counts, I, 1).

wrong_if(true, Counts) -> add(Counts, ?WRONG);
wrong_if(false, _Counts) -> ok.

%% -- factory ---------------------------------------------------------------------

factory_wait(Main, Room, N, ArrivalRate, Counts, Fault) ->
    receive
        start ->
            Self = self(),
            arrive(0, N, Room, ArrivalRate, Counts, Self, Fault, savina_random:new(1), 0, 0),
            factory(Main, Room, N, Counts, #{}, 0)
    end.

%% At: this customer's arrival step, the sum of the draws before him.
arrive(N, N, _Room, _Rate, Counts, _Self, _Fault, _R, At, Work) ->
    atomics:put(Counts, ?ARRIVAL_STEPS, At),
    atomics:add(Counts, ?WORK, Work);
arrive(I, N, Room, Rate, Counts, Self, Fault, R, At, Work) ->
    Customer = spawn(fun() -> customer(I, Self, Counts, Fault, false) end),
    Room ! {enter, Customer, I, At, false},
    {Draw, R1} = savina_random:below(R, Rate),
    Gap = Draw + 10,
    Step = savina_work:busy_wait(Gap),
    arrive(I + 1, N, Room, Rate, Counts, Self, Fault, R1, At + Gap, Work + Step).

%% Served: a map of the customers served so far.
factory(Main, Room, N, Counts, Served, Count) ->
    receive
        {returned, Customer, Id} ->
            add(Counts, ?RETURNS),
            Room ! {enter, Customer, Id, 0, true},
            factory(Main, Room, N, Counts, Served, Count);
        {served, Id} ->
            case maps:is_key(Id, Served) of
                true ->
                    add(Counts, ?WRONG),
                    factory(Main, Room, N, Counts, Served, Count);
                false ->
                    case Count + 1 of
                        N -> Main ! {all_served, ok};
                        _ -> ok
                    end,
                    factory(Main, Room, N, Counts, Served#{Id => true}, Count + 1)
            end
    end.

%% -- customer --------------------------------------------------------------------

%% Only customer 0 carries the fault: its "served" message is the one
%% dropped or duplicated.
customer(Id, Factory, Counts, Fault, Started) ->
    receive
        full ->
            wrong_if(Started, Counts),
            Factory ! {returned, self(), Id},
            customer(Id, Factory, Counts, Fault, Started);
        wait ->
            customer(Id, Factory, Counts, Fault, Started);
        start ->
            wrong_if(Started, Counts),
            customer(Id, Factory, Counts, Fault, true);
        done ->
            wrong_if(not Started, Counts),
            case Id of
                0 -> savina_check:send(Fault, Factory, {served, Id});
                _ -> Factory ! {served, Id}
            end,
            drain(Counts)
    end.

drain(Counts) ->
    receive
        _Late -> add(Counts, ?WRONG), drain(Counts)
    after 0 -> ok
    end.

%% -- room: the timetable and the haircuts to hand out ----------------------------

new_shop(Capacity, N, HaircutRate, Barber, Counts) ->
    #{capacity => Capacity, customers => N, rate => HaircutRate, barber => Barber, counts => Counts,
      random => savina_random:new(2),
      seated => queue:new(), seated_count => 0,   % start steps of the seated customers
      outside => queue:new(),                     % turned away, in that order
      free_at => -1,                              % end step of the last haircut given out
      first_arrivals => 0, last_at => 0,
      to_hand_out => queue:new(), away => #{}, pids => #{}, barber_free => true,
      turned_away => 0, told_to_wait => 0, naps => 0}.

room(S = #{counts := Counts}) ->
    receive
        {enter, Customer, Id, At, false} ->
            add(Counts, ?ENTRIES),
            {Entry, S1} = first_arrival(Id, At, S#{pids := maps:put(Id, Customer, maps:get(pids, S))}),
            #{turned_away := T, told_to_wait := W, naps := Naps} = S1,
            atomics:put(Counts, ?TURNED_AWAY, T),
            atomics:put(Counts, ?TOLD_TO_WAIT, W),
            atomics:put(Counts, ?ROOM_NAPS, Naps),
            case Entry of
                turned_away -> Customer ! full, room(S1);
                seated_to_wait -> Customer ! wait, room(hand_out(S1));
                seated -> room(hand_out(S1))
            end;
        {enter, _Customer, Id, _At, true} ->
            add(Counts, ?ENTRIES),
            room(hand_out(come_back(Id, S)));
        next ->
            room(hand_out(S#{barber_free := true}))
    end.

first_arrival(Id, At, S = #{customers := N, first_arrivals := F, last_at := Last, counts := Counts,
                            capacity := Capacity}) ->
    wrong_if(Id < 0 orelse Id >= N orelse F =:= N orelse At < Last, Counts),
    S1 = advance_to(At, S#{first_arrivals := F + 1, last_at := At}),
    {Entry, S2} =
        case maps:get(seated_count, S1) =:= Capacity of
            true ->
                #{turned_away := T, away := Away, outside := Out} = S1,
                {turned_away, S1#{turned_away := T + 1, away := Away#{Id => true},
                                  outside := queue:in(Id, Out)}};
            false ->
                case seat(Id, At, S1) of
                    {Start, S3 = #{told_to_wait := W}} when Start > At ->
                        {seated_to_wait, S3#{told_to_wait := W + 1}};
                    {_Start, S3} ->
                        {seated, S3}
                end
        end,
    %% Nobody arrives after the last first arrival: whoever is outside takes
    %% the seats as they free (an atom compares above every number).
    case F + 1 =:= N of
        true -> {Entry, advance_to(infinity, S2)};
        false -> {Entry, S2}
    end.

come_back(Id, S = #{away := Away, counts := Counts}) ->
    case maps:is_key(Id, Away) of
        true -> S#{away := maps:remove(Id, Away)};
        false -> add(Counts, ?WRONG), S
    end.

%% Starts every seated haircut due by step Now; each seat that frees goes to
%% the first customer outside.
advance_to(Now, S = #{seated := Seated, seated_count := Count, outside := Out}) ->
    case queue:peek(Seated) of
        {value, Start} when Start =< Now ->
            S1 = S#{seated := queue:drop(Seated), seated_count := Count - 1},
            case queue:out(Out) of
                {{value, Id}, Out1} ->
                    {_, S2} = seat(Id, Start, S1#{outside := Out1}),
                    advance_to(Now, S2);
                {empty, _} ->
                    advance_to(Now, S1)
            end;
        _ ->
            S
    end.

%% Seats customer Id at step At: his haircut starts when the barber is free
%% and lasts a fresh draw; returns the start step.
seat(Id, At, S = #{free_at := FreeAt, random := R, rate := Rate, seated := Seated,
                   seated_count := Count, to_hand_out := ToHandOut, naps := Naps}) ->
    Start = max(At, FreeAt),
    {Draw, R1} = savina_random:below(R, Rate),
    Steps = Draw + 10,
    Nap = Start > FreeAt,
    {Start, S#{free_at := Start + Steps, random := R1, seated := queue:in(Start, Seated),
               seated_count := Count + 1, to_hand_out := queue:in({Id, Steps, Nap}, ToHandOut),
               naps := Naps + case Nap of true -> 1; false -> 0 end}}.

%% The next haircut, when the barber is free and the first customer in
%% seating order is in the room (not still on his way back).
hand_out(S = #{barber_free := true, to_hand_out := ToHandOut, away := Away, pids := Pids,
               barber := Barber}) ->
    case queue:peek(ToHandOut) of
        {value, {Id, Steps, Nap}} when not is_map_key(Id, Away) ->
            case Nap of
                true -> Barber ! nap;
                false -> ok
            end,
            Barber ! {cut, maps:get(Id, Pids), Steps},
            S#{barber_free := false, to_hand_out := queue:drop(ToHandOut), pids := maps:remove(Id, Pids)};
        _ ->
            S
    end;
hand_out(S) ->
    S.

%% -- barber ----------------------------------------------------------------------

barber_wait(Counts) ->
    receive
        {init, Room} -> barber(Room, Counts)
    end.

barber(Room, Counts) ->
    receive
        {cut, Customer, Steps} ->
            Customer ! start,
            atomics:add(Counts, ?WORK, savina_work:busy_wait(Steps)),
            atomics:add(Counts, ?HAIRCUT_STEPS, Steps),
            add(Counts, ?HAIRCUTS),
            Customer ! done,
            Room ! next,
            barber(Room, Counts);
        nap ->
            add(Counts, ?NAPS),
            barber(Room, Counts)
    end.
