%% Concurrent sorted list: twin of bench/savina/concurrent_sorted_list.cpp.
%% W workers each send M requests, one at a time, to one process that keeps
%% a list in ascending order: size_percent ask for the size, write_percent
%% insert a value, the rest ask whether a value is in the list. Inserting
%% and looking up walk the list from its head, as the C++ versions walk
%% their linked list (common/.../sorted_list.hpp); requests are drawn as
%% sorted_list_draw() draws them, from splitmix64 seeded id * 7919 + 1.
%%
%% Checks as in C++: replies echo the request's number, operation and
%% written value; a size never shrinks nor falls below the worker's own
%% answered writes (a worker counts what does not fit); after the run the
%% list holds exactly the written values (count and sum, by replaying the
%% draws) and handled exactly W x M requests.
-module(savina_concurrent_sorted_list).
-export([params/0, unit/0, process_flags/0, run/2]).

params() -> ["workers", "messages", "write_percent", "size_percent"].
unit() -> "msg/s".
%% All workers send to the list: off_heap lets them enqueue in parallel.
%% The list grows to tens of thousands of values; a larger minimum heap
%% saves the repeated small collections while it grows.
process_flags() -> [{"sorted list", "message_queue_data=off_heap min_heap_size=65536"}].

-define(LIST_MIN_HEAP_WORDS, 65536).

run(#{"workers" := W, "messages" := M, "write_percent" := P, "size_percent" := S}, Fault) ->
    %% Bounds are savina_main's (generated from parameters.cpp); this rule
    %% ties two parameters, worded as parameter_problem() words it.
    P + S =< 100 orelse
        savina_check:bad_parameters("concurrent-sorted-list's write_percent and size_percent add up "
                                    "to more than 100", []),
    Space = max(1, 2 * W * M * P div 100),
    Main = self(),
    List = spawn_opt(fun() -> list([], 0, 0) end,
                     [link, {message_queue_data, off_heap}, {min_heap_size, ?LIST_MIN_HEAP_WORDS}]),
    Workers = [spawn_link(fun() -> worker_wait(Main, List, Id, M, P, S, Space) end) || Id <- lists:seq(0, W - 1)],
    Start = savina_check:now_ns(),
    [Pid ! {start, Fault} || Pid <- Workers],
    [savina_check:await(worker_done) || _ <- Workers],
    Elapsed = savina_check:elapsed_s(Start),
    savina_check:quiesce(),
    savina_check:no_strays(),
    Reports = [savina_check:call(Pid, report) || Pid <- Workers],
    Wrong = lists:sum([Bad || {_, Bad} <- Reports]),
    savina_check:check(Wrong =:= 0, "~b replies answered another request or gave an impossible result", [Wrong]),
    savina_check:check(lists:all(fun({Replies, _}) -> Replies =:= M end, Reports),
                       "a worker did not get exactly ~b replies: ~w", [M, [R || {R, _} <- Reports]]),
    {Requests, Size, Sum} = savina_check:call(List, report),
    {Writes, WrittenSum} = replay(W, M, P, S, Space),
    savina_check:check(Requests =:= W * M, "the list handled ~b requests, ~b were sent", [Requests, W * M]),
    savina_check:check(Size =:= Writes, "the list holds ~b values, ~b were written", [Size, Writes]),
    savina_check:check(Sum =:= WrittenSum, "the list's values sum to ~b, the written ones to ~b", [Sum, WrittenSum]),
    #{elapsed_s => Elapsed, messages => 2 * W * M, items => 2 * W * M}.

%% {writes, sum of the written values} over every worker's draws.
replay(W, M, P, S, Space) ->
    lists:foldl(fun(Id, Acc) -> replay_worker(savina_random:new(Id * 7919 + 1), M, P, S, Space, Acc) end,
                {0, 0}, lists:seq(0, W - 1)).

replay_worker(_R, 0, _P, _S, _Space, Acc) -> Acc;
replay_worker(R, Left, P, S, Space, {Writes, Sum}) ->
    case draw(R, P, S, Space) of
        {write, Value, R1} -> replay_worker(R1, Left - 1, P, S, Space, {Writes + 1, Sum + Value});
        {_, _, R1} -> replay_worker(R1, Left - 1, P, S, Space, {Writes, Sum})
    end.

%% As sorted_list_draw(): a percent picks the operation; write and contains
%% then draw a value.
draw(R, P, S, Space) ->
    {Percent, R1} = savina_random:below(R, 100),
    case Percent < S of
        true -> {size, 0, R1};
        false ->
            {Value, R2} = savina_random:below(R1, Space),
            case Percent < S + P of
                true -> {write, Value, R2};
                false -> {contains, Value, R2}
            end
    end.

worker_wait(Main, List, Id, M, P, S, Space) ->
    receive
        {start, Fault} ->
            {Op, Value, R} = draw(savina_random:new(Id * 7919 + 1), P, S, Space),
            %% Worker 0's first request is the message a fault is injected into.
            case Id of
                0 -> savina_check:send(Fault, List, {Op, 1, Value, self()});
                _ -> List ! {Op, 1, Value, self()}
            end,
            worker(#{main => Main, list => List, m => M, p => P, s => S, space => Space},
                   R, {Op, 1, Value}, 0, 0, 0, 0)
    end.

%% Pending: the outstanding request {Op, Seq, Value}, or done; OwnWrites: this worker's answered
%% writes; LastSize: the last size answered.
worker(C, R, Pending, Replies, OwnWrites, LastSize, Wrong) ->
    receive
        {reply, Seq, Op, Result} ->
            {Ok, OwnWrites1, LastSize1} =
                case Pending of
                    {Op, Seq, Value} -> judge(Op, Result, Value, OwnWrites, LastSize);
                    _ -> {false, OwnWrites, LastSize}  % another request's, or none outstanding
                end,
            Wrong1 = case Ok of true -> Wrong; false -> Wrong + 1 end,
            next(C, R, Pending, Replies + 1, OwnWrites1, LastSize1, Wrong1, Ok);
        {report, From, Ref} ->
            From ! {Ref, {Replies, Wrong}},
            worker(C, R, Pending, Replies, OwnWrites, LastSize, Wrong)
    end.

judge(write, Result, Value, OwnWrites, LastSize) -> {Result =:= Value, OwnWrites + 1, LastSize};
judge(contains, Result, _Value, OwnWrites, LastSize) -> {Result =:= 0 orelse Result =:= 1, OwnWrites, LastSize};
judge(size, Result, _Value, OwnWrites, LastSize) ->
    {Result >= LastSize andalso Result >= OwnWrites, OwnWrites, Result}.

%% A reply to another request does not advance the worker.
next(C, R, Pending, Replies, OwnWrites, LastSize, Wrong, false) ->
    worker(C, R, Pending, Replies, OwnWrites, LastSize, Wrong);
next(C = #{m := M}, R, {_, M, _}, Replies, OwnWrites, LastSize, Wrong, true) ->
    maps:get(main, C) ! {worker_done, self()},
    worker(C, R, done, Replies, OwnWrites, LastSize, Wrong);
next(C = #{list := List, p := P, s := S, space := Space}, R, {_, Seq, _}, Replies, OwnWrites, LastSize, Wrong, true) ->
    {Op, Value, R1} = draw(R, P, S, Space),
    List ! {Op, Seq + 1, Value, self()},
    worker(C, R1, {Op, Seq + 1, Value}, Replies, OwnWrites, LastSize, Wrong).

list(Values, Size, Requests) ->
    receive
        {write, Seq, Value, From} ->
            From ! {reply, Seq, write, Value},
            list(insert(Value, Values), Size + 1, Requests + 1);
        {contains, Seq, Value, From} ->
            From ! {reply, Seq, contains, case member(Value, Values) of true -> 1; false -> 0 end},
            list(Values, Size, Requests + 1);
        {size, Seq, _Value, From} ->
            From ! {reply, Seq, size, Size},
            list(Values, Size, Requests + 1);
        {report, From, Ref} ->
            From ! {Ref, {Requests, Size, lists:sum(Values)}},
            list(Values, Size, Requests)
    end.

%% The walks of sorted_linked_list::add and ::contains.
insert(Value, [Head | Tail]) when Head < Value -> [Head | insert(Value, Tail)];
insert(Value, Values) -> [Value | Values].

member(Value, [Head | Tail]) when Head < Value -> member(Value, Tail);
member(Value, [Value | _]) -> true;
member(_Value, _Values) -> false.
