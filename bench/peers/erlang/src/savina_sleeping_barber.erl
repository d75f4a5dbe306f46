%% Sleeping barber: twin of bench/savina/sleeping_barber.cpp. A factory
%% process creates Haircuts customers one after another, sends each into the
%% waiting room and busy-waits savina_work:busy_wait(below(ArrivalRate) +
%% 10) steps between arrivals; a customer who finds the room full goes back
%% to the factory, which sends it in again. The room wakes the barber when
%% a customer arrives to an empty shop and hands him the next customer each
%% time he finishes; a haircut is busy_wait(below(HaircutRate) + 10) steps.
%% splitmix64 draws: factory seed 1, barber seed 2, as in C++.
%%
%% Checks as in C++: every customer is served exactly once; a customer is
%% started before it is done, once, and never turned away once seated; the
%% barber cut Haircuts times; the room saw one entry per customer plus one
%% per return, and turned away as many as came back. Counts live in
%% atomics and are read once the system is quiet; a customer handles what
%% is already in its mailbox before it ends, so a late duplicate is counted.
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

run(#{"haircuts" := N, "waiting_room" := Capacity, "arrival_rate" := ArrivalRate,
      "haircut_rate" := HaircutRate}, Fault) ->
    (N >= 1 andalso Capacity >= 1 andalso ArrivalRate >= 1 andalso HaircutRate >= 1)
        orelse savina_check:fail("sleeping-barber needs positive sizes", []),
    Main = self(),
    Counts = atomics:new(8, [{signed, true}]),
    Barber = spawn_link(fun() -> barber_wait(HaircutRate, Counts) end),
    Room = spawn_link(fun() -> room(Capacity, Barber, Counts, queue:new(), 0, true) end),
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
    savina_check:check(Get(?WRONG) =:= 0, "~b customers were started, done, turned away or served out of turn",
                       [Get(?WRONG)]),
    savina_check:check(Get(?HAIRCUTS) =:= N, "the barber cut ~b times for ~b customers", [Get(?HAIRCUTS), N]),
    savina_check:check(Get(?TURNED_AWAY) =:= Returns, "~b customers were turned away, ~b came back",
                       [Get(?TURNED_AWAY), Returns]),
    savina_check:check(Get(?ENTRIES) =:= N + Returns, "the room saw ~b entries for ~b customers and ~b returns",
                       [Get(?ENTRIES), N, Returns]),
    Messages = 7 * N + 3 * Returns + Get(?TOLD_TO_WAIT) + Get(?NAPS),
    %% Throughput counts haircuts: bounces off a full room are not progress.
    #{elapsed_s => Elapsed, messages => Messages, items => N}.

add(Counts, I) -> atomics:add(Counts, I, 1).

wrong_if(true, Counts) -> add(Counts, ?WRONG);
wrong_if(false, _Counts) -> ok.

%% -- factory ---------------------------------------------------------------------

factory_wait(Main, Room, N, ArrivalRate, Counts, Fault) ->
    receive
        start ->
            Self = self(),
            arrive(0, N, Room, ArrivalRate, Counts, Self, Fault, savina_random:new(1), 0),
            factory(Main, Room, N, Counts, #{}, 0)
    end.

arrive(N, N, _Room, _Rate, Counts, _Self, _Fault, _R, Work) -> atomics:add(Counts, ?WORK, Work);
arrive(I, N, Room, Rate, Counts, Self, Fault, R, Work) ->
    Customer = spawn(fun() -> customer(I, Self, Counts, Fault, false) end),
    Room ! {enter, Customer},
    {Draw, R1} = savina_random:below(R, Rate),
    Step = savina_work:busy_wait(Draw + 10),
    arrive(I + 1, N, Room, Rate, Counts, Self, Fault, R1, Work + Step).

%% Served: a map of the customers served so far.
factory(Main, Room, N, Counts, Served, Count) ->
    receive
        {returned, Customer} ->
            add(Counts, ?RETURNS),
            Room ! {enter, Customer},
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
            Factory ! {returned, self()},
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

%% -- room and barber -------------------------------------------------------------

room(Capacity, Barber, Counts, Waiting, Seated, BarberAsleep) ->
    receive
        {enter, Customer} ->
            add(Counts, ?ENTRIES),
            case Seated =:= Capacity of
                true ->
                    add(Counts, ?TURNED_AWAY),
                    Customer ! full,
                    room(Capacity, Barber, Counts, Waiting, Seated, BarberAsleep);
                false when BarberAsleep ->
                    self() ! next,
                    room(Capacity, Barber, Counts, queue:in(Customer, Waiting), Seated + 1, false);
                false ->
                    add(Counts, ?TOLD_TO_WAIT),
                    Customer ! wait,
                    room(Capacity, Barber, Counts, queue:in(Customer, Waiting), Seated + 1, false)
            end;
        next ->
            case queue:out(Waiting) of
                {empty, _} ->
                    Barber ! nap,
                    room(Capacity, Barber, Counts, Waiting, 0, true);
                {{value, Customer}, Rest} ->
                    Barber ! {cut, Customer},
                    room(Capacity, Barber, Counts, Rest, Seated - 1, false)
            end
    end.

barber_wait(HaircutRate, Counts) ->
    receive
        {init, Room} -> barber(Room, HaircutRate, Counts, savina_random:new(2))
    end.

barber(Room, HaircutRate, Counts, R) ->
    receive
        {cut, Customer} ->
            Customer ! start,
            {Draw, R1} = savina_random:below(R, HaircutRate),
            atomics:add(Counts, ?WORK, savina_work:busy_wait(Draw + 10)),
            add(Counts, ?HAIRCUTS),
            Customer ! done,
            Room ! next,
            barber(Room, HaircutRate, Counts, R1);
        nap ->
            add(Counts, ?NAPS),
            barber(Room, HaircutRate, Counts, R)
    end.
