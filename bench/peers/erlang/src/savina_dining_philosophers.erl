%% Dining philosophers: twin of bench/savina/dining_philosophers.cpp. N
%% philosophers each eat R times. A hungry philosopher asks the arbitrator
%% for both its forks; it gets them only if both are free, else it is denied
%% and asks again. The arbitrator counts a release of a fork that was not
%% held (a double grant), and each philosopher counts answers that came
%% when it had not asked (a duplicate or stray). Meals, leaves and every
%% philosopher's own meal count are checked once the system is quiet.
-module(savina_dining_philosophers).
-export([params/0, unit/0, process_flags/0, run/2]).

params() -> ["philosophers", "rounds"].
unit() -> "msg/s".
%% Every philosopher sends to the arbitrator: off_heap lets them enqueue in
%% parallel.
process_flags() -> [{"arbitrator", "message_queue_data=off_heap"}].

run(#{"philosophers" := N, "rounds" := R}, Fault) ->
    Main = self(),
    Forks = erlang:make_tuple(N, false),
    Arbitrator = spawn_opt(fun() -> arbitrator(Main, N, Forks, 0, 0, 0, 0) end,
                           [link, {message_queue_data, off_heap}]),
    Philosophers = [spawn_link(fun() -> philosopher_wait(Id, R, Arbitrator) end) || Id <- lists:seq(0, N - 1)],
    Start = savina_check:now_ns(),
    [Pid ! {start, Fault} || Pid <- Philosophers],
    {Meals, Received, Errors} = savina_check:await(arbitrator_done),
    Elapsed = savina_check:elapsed_s(Start),
    savina_check:quiesce(),
    savina_check:no_strays(),
    savina_check:check(Errors =:= 0, "~b forks were released that were not held", [Errors]),
    savina_check:check(Meals =:= N * R, "philosophers ate ~b meals, expected ~b", [Meals, N * R]),
    {FinalMeals, FinalReceived, FinalErrors, Left} = savina_check:call(Arbitrator, report),
    savina_check:check({FinalMeals, FinalReceived, FinalErrors, Left} =:= {Meals, Received, Errors, N},
                       "the arbitrator got ~b messages after all had left (~b left)", [FinalReceived - Received, Left]),
    lists:foreach(
      fun({Id, Pid}) ->
              {Eaten, Wrong} = savina_check:call(Pid, report),
              savina_check:check(Wrong =:= 0, "philosopher ~b got ~b answers it had not asked for", [Id, Wrong]),
              savina_check:check(Eaten =:= R, "philosopher ~b ate ~b times, expected ~b", [Id, Eaten, R])
      end, lists:zip(lists:seq(0, N - 1), Philosophers)),
    %% Every hungry request got a reply: hungry requests = received - releases - leaves.
    Hungry = Received - Meals - N,
    #{elapsed_s => Elapsed, messages => Received + Hungry, items => Received + Hungry}.

%% Forks: tuple of booleans, fork I+1 is philosopher I's left fork.
arbitrator(Main, N, Forks, Left, Meals, Received, Errors) ->
    receive
        {hungry, Id, From} ->
            L = Id + 1,
            Rt = (Id + 1) rem N + 1,
            case element(L, Forks) orelse element(Rt, Forks) of
                true ->
                    From ! {answer, false},
                    arbitrator(Main, N, Forks, Left, Meals, Received + 1, Errors);
                false ->
                    From ! {answer, true},
                    arbitrator(Main, N, setelement(Rt, setelement(L, Forks, true), true), Left, Meals + 1,
                               Received + 1, Errors)
            end;
        {release, Id} ->
            L = Id + 1,
            Rt = (Id + 1) rem N + 1,
            Errors1 = case element(L, Forks) andalso element(Rt, Forks) of true -> Errors; false -> Errors + 1 end,
            arbitrator(Main, N, setelement(Rt, setelement(L, Forks, false), false), Left, Meals, Received + 1, Errors1);
        leave ->
            case Left + 1 =:= N of
                true -> Main ! {arbitrator_done, {Meals, Received + 1, Errors}};
                false -> ok
            end,
            arbitrator(Main, N, Forks, Left + 1, Meals, Received + 1, Errors);
        {report, From, Ref} ->
            From ! {Ref, {Meals, Received, Errors, Left}},
            arbitrator(Main, N, Forks, Left, Meals, Received, Errors)
    end.

philosopher_wait(Id, R, Arbitrator) ->
    receive
        {start, Fault} ->
            %% Philosopher 0's first request is the message a fault is injected into.
            case Id of
                0 -> savina_check:send(Fault, Arbitrator, {hungry, Id, self()});
                _ -> Arbitrator ! {hungry, Id, self()}
            end,
            philosopher(Id, R, Arbitrator, 0, true, 0)
    end.

%% Asked: whether a request is outstanding; Wrong: answers without one.
philosopher(Id, R, Arbitrator, Eaten, Asked, Wrong) ->
    receive
        {answer, false} when Asked ->
            Arbitrator ! {hungry, Id, self()},
            philosopher(Id, R, Arbitrator, Eaten, true, Wrong);
        {answer, true} when Asked ->
            Arbitrator ! {release, Id},
            case Eaten + 1 < R of
                true ->
                    Arbitrator ! {hungry, Id, self()},
                    philosopher(Id, R, Arbitrator, Eaten + 1, true, Wrong);
                false ->
                    Arbitrator ! leave,
                    philosopher(Id, R, Arbitrator, Eaten + 1, false, Wrong)
            end;
        {answer, _} ->
            philosopher(Id, R, Arbitrator, Eaten, Asked, Wrong + 1);
        {report, From, Ref} ->
            From ! {Ref, {Eaten, Wrong}},
            philosopher(Id, R, Arbitrator, Eaten, Asked, Wrong)
    end.
