%% N-queens: twin of bench/savina/n_queens.cpp. Count the solutions of the
%% size-N problem. A worker that gets a board with fewer than `threshold`
%% queens sends each legal extension back to the master, which hands work
%% to its W workers round robin; deeper boards are solved sequentially.
%% Every board handed out is closed by exactly one `found`, so the master
%% knows when it is done; the count must match the known one, and the
%% master must get nothing more once the system is quiet.
-module(savina_n_queens).
-export([params/0, unit/0, process_flags/0, run/2, count_from/3]).

params() -> ["size", "workers", "threshold"].
unit() -> "solutions/s".
%% Twenty workers send to the master: off_heap lets them enqueue in
%% parallel. The workers build boards as lists; a larger young heap makes
%% their minor collections rarer (as for trapezoid).
process_flags() -> [{"master", "message_queue_data=off_heap"}, {"worker", "min_heap_size=65536"}].

-define(WORKER_MIN_HEAP_WORDS, 65536).

%% OEIS A000170, as reference_answers.cpp.
known(N) ->
    element(N + 1, {1, 1, 0, 0, 2, 10, 4, 40, 92, 352, 724, 2680, 14200, 73712, 365596, 2279184, 14772512}).

run(#{"size" := Size, "workers" := W, "threshold" := Threshold}, Fault) ->
    Main = self(),
    Master = spawn_opt(fun() -> master_wait(Main, Size, Threshold, W) end, [link, {message_queue_data, off_heap}]),
    Start = savina_check:now_ns(),
    Master ! {start, Fault},
    {Solutions, Received} = savina_check:await(queens_done),
    Elapsed = savina_check:elapsed_s(Start),
    savina_check:quiesce(),
    savina_check:no_strays(),
    savina_check:check(Solutions =:= known(Size), "~b solutions, expected ~b", [Solutions, known(Size)]),
    savina_check:check(savina_check:call(Master, report) =:= {Solutions, Received, 0},
                       "the master got boards or counts after it finished", []),
    %% Master's inbox, plus one board sent to a worker per work message and the root.
    #{elapsed_s => Elapsed, messages => 2 * Received, items => Solutions}.

master_wait(Main, Size, Threshold, W) ->
    receive
        {start, Fault} ->
            Master = self(),
            Workers = list_to_tuple([spawn_opt(fun() -> worker(Master, Size, Threshold) end,
                                               [link, {min_heap_size, ?WORKER_MIN_HEAP_WORDS}])
                                     || _ <- lists:seq(1, W)]),
            %% The root board is the message a fault is injected into.
            savina_check:send(Fault, element(1, Workers), {board, 0, []}),
            master(Main, Workers, 1, 1, 0, 0)
    end.

%% Next: the worker that gets the next board; Open: boards not yet closed
%% by a `found`; Received: the master's inbox so far.
master(Main, Workers, Next, Open, Solutions, Received) ->
    receive
        {work, Depth, Columns} ->
            element(Next rem tuple_size(Workers) + 1, Workers) ! {board, Depth, Columns},
            master(Main, Workers, Next + 1, Open + 1, Solutions, Received + 1);
        {found, Count} ->
            case Open - 1 of
                0 -> Main ! {queens_done, {Solutions + Count, Received + 1}};
                _ -> ok
            end,
            master(Main, Workers, Next, Open - 1, Solutions + Count, Received + 1);
        {report, From, Ref} ->
            From ! {Ref, {Solutions, Received, Open}},
            master(Main, Workers, Next, Open, Solutions, Received)
    end.

worker(Master, Size, Threshold) ->
    receive
        {board, Depth, Columns} when Depth >= Threshold ->
            Master ! {found, count_from(Size, Depth, Columns)},
            worker(Master, Size, Threshold);
        {board, Depth, Columns} ->
            Complete = extend(Master, Size, Depth, Columns, 0, 0),
            %% Sent after the children (same sender, so delivered in order):
            %% the master's count of open boards cannot reach zero early.
            Master ! {found, Complete},
            worker(Master, Size, Threshold)
    end.

%% Sends every legal extension of the board with a free row left to the
%% master; returns how many extensions complete the board.
extend(_Master, Size, _Depth, _Columns, Column, Complete) when Column =:= Size -> Complete;
extend(Master, Size, Depth, Columns, Column, Complete) ->
    case safe(Columns, Column, 1) of
        false -> extend(Master, Size, Depth, Columns, Column + 1, Complete);
        true when Depth + 1 =:= Size -> extend(Master, Size, Depth, Columns, Column + 1, Complete + 1);
        true ->
            Master ! {work, Depth + 1, [Column | Columns]},
            extend(Master, Size, Depth, Columns, Column + 1, Complete)
    end.

%% Columns: the placed queens' columns, the last row first, so the queen
%% Distance rows up is the Distance-th element.
safe([], _Column, _Distance) -> true;
safe([C | _], Column, _Distance) when C =:= Column -> false;
safe([C | _], Column, Distance) when C - Column =:= Distance; Column - C =:= Distance -> false;
safe([_ | Rest], Column, Distance) -> safe(Rest, Column, Distance + 1).

%% Solutions that extend the board, sequentially (n_queens_count_from()).
count_from(Size, Size, _Columns) -> 1;
count_from(Size, Depth, Columns) -> count_columns(Size, Depth, Columns, 0, 0).

count_columns(Size, _Depth, _Columns, Size, Count) -> Count;
count_columns(Size, Depth, Columns, Column, Count) ->
    Count1 = case safe(Columns, Column, 1) of
                 true -> Count + count_from(Size, Depth + 1, [Column | Columns]);
                 false -> Count
             end,
    count_columns(Size, Depth, Columns, Column + 1, Count1).
