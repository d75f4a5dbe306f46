%% Matrix multiplication: twin of bench/savina/matrix_multiplication.cpp.
%% C = A × B for two D×D integer matrices, A[i][k] = i and B[k][j] = j, so
%% C[i][j] = D·i·j. A master hands block products to W workers round robin;
%% a worker splits a block of more than `block_threshold` elements into the
%% eight half-size products of the 2×2 block scheme and sends them back in
%% one `split`, and multiplies a smaller one and sends the product block
%% back, which the master adds into C. The multiplication is the C++ one
%% (block_matrix.cpp): transpose the B block, then one dot product per
%% element, k ascending.
%%
%% A and B are read-only and shared by every worker through persistent_term
%% (no copy per worker or per message); C is an atomics array only the
%% master writes. Every block handed out is closed by exactly one reply; C
%% is read after quiesce/0, so a late duplicate's extra blocks are in it,
%% and every element must equal D·i·j.
-module(savina_matrix_multiplication).
-export([params/0, unit/0, process_flags/0, run/2]).

params() -> ["dimension", "workers", "block_threshold"].
unit() -> "mul-adds/s".
%% The master receives every product block: off_heap keeps the workers'
%% sends from contending for its main lock. A worker builds a block's rows
%% as lists: a larger young heap (as for trapezoid) makes its minor
%% collections rarer.
process_flags() -> [{"master", "message_queue_data=off_heap"}, {"worker", "min_heap_size=65536"},
                    {"inputs", "persistent_term"}].

-define(WORKER_MIN_HEAP_WORDS, 65536).
-define(INPUTS, {?MODULE, inputs}).

run(#{"dimension" := D, "workers" := W, "block_threshold" := Threshold}, Fault) ->
    %% Bounds are savina_main's (generated from parameters.cpp); this rule
    %% ties two parameters, worded as parameter_problem() words it.
    halves_evenly(D, Threshold) orelse
        savina_check:bad_parameters("matrix-multiplication's dimension ~b does not halve evenly down to the "
                                    "block threshold ~b (a power of two does, and so does a multiple of one "
                                    "such as 1,536 at 16,384)", [D, Threshold]),
    %% Row I of A is all I; row K of B is 0, 1, ..., D-1.
    A = list_to_tuple([erlang:make_tuple(D, I) || I <- lists:seq(0, D - 1)]),
    BRow = list_to_tuple(lists:seq(0, D - 1)),
    B = erlang:make_tuple(D, BRow),
    persistent_term:put(?INPUTS, {A, B}),
    C = atomics:new(D * D, [{signed, true}]),
    Main = self(),
    Master = spawn_opt(fun() -> master_wait(Main, D, C, Threshold, W, Fault) end,
                       [link, {message_queue_data, off_heap}]),
    Start = savina_check:now_ns(),
    Master ! start,
    Replies = savina_check:await(matrix_done),
    Elapsed = savina_check:elapsed_s(Start),
    savina_check:quiesce(),
    savina_check:no_strays(),
    savina_check:check(savina_check:call(Master, report) =:= {Replies, 0},
                       "the master got replies after it finished", []),
    Wrong = wrong_elements(C, D, 0, 0),
    savina_check:check(Wrong =:= 0, "~b elements of the product differ from D*i*j", [Wrong]),
    %% Each reply closes one block handed to a worker.
    #{elapsed_s => Elapsed, messages => 2 * Replies, items => D * D * D}.

master_wait(Main, D, C, Threshold, W, Fault) ->
    receive
        start ->
            Master = self(),
            Workers = list_to_tuple(
                        [spawn_opt(fun() -> worker(Master, Threshold, case I of 1 -> Fault; _ -> none end) end,
                                   [link, {min_heap_size, ?WORKER_MIN_HEAP_WORDS}])
                         || I <- lists:seq(1, W)]),
            element(1, Workers) ! {block, {0, 0, 0, 0, 0, 0, D}},
            master(Main, D, C, Workers, 1, 1, 0)
    end.

%% Next: the worker that gets the next block; Open: blocks not yet closed.
master(Main, D, C, Workers, Next, Open, Replies) ->
    receive
        {split, Blocks} ->
            Next1 = lists:foldl(fun(Block, N) ->
                                        element(N rem tuple_size(Workers) + 1, Workers) ! {block, Block},
                                        N + 1
                                end, Next, Blocks),
            closed(Main, D, C, Workers, Next1, Open + 8, Replies);
        {product, Block, Rows} ->
            add_product(C, D, Block, Rows),
            closed(Main, D, C, Workers, Next, Open, Replies);
        {report, From, Ref} ->
            From ! {Ref, {Replies, Open}},
            master(Main, D, C, Workers, Next, Open, Replies)
    end.

closed(Main, D, C, Workers, Next, Open, Replies) ->
    case Open - 1 of
        0 -> Main ! {matrix_done, Replies + 1};
        _ -> ok
    end,
    master(Main, D, C, Workers, Next, Open - 1, Replies + 1).

%% Fault: applies to this worker's first split (worker 1's: the root block's).
worker(Master, Threshold, Fault) ->
    receive
        {block, {_, _, _, _, _, _, Size} = Block} when Size * Size > Threshold ->
            savina_check:send(Fault, Master, {split, split(Block)}),
            worker(Master, Threshold, none);
        {block, Block} ->
            Master ! {product, Block, multiply(Block)},
            worker(Master, Threshold, Fault)
    end.

%% Every block that splits has an even side, as halves_evenly() in
%% block_matrix.cpp.
halves_evenly(Side, Threshold) when Side * Side =< Threshold -> true;
halves_evenly(Side, Threshold) when Side rem 2 =:= 0 -> halves_evenly(Side div 2, Threshold);
halves_evenly(_, _) -> false.

%% The eight half-size products, as split_block() in block_matrix.cpp.
split({AR, AC, BR, BC, CR, CC, Size}) ->
    H = Size div 2,
    [{AR, AC, BR, BC, CR, CC, H},
     {AR, AC + H, BR + H, BC, CR, CC, H},
     {AR, AC, BR, BC + H, CR, CC + H, H},
     {AR, AC + H, BR + H, BC + H, CR, CC + H, H},
     {AR + H, AC, BR, BC, CR + H, CC, H},
     {AR + H, AC + H, BR + H, BC, CR + H, CC, H},
     {AR + H, AC, BR, BC + H, CR + H, CC + H, H},
     {AR + H, AC + H, BR + H, BC + H, CR + H, CC + H, H}].

%% The product block as a list of rows, as multiply_block(): the B block's
%% columns first, then one dot product per element.
multiply({AR, AC, BR, BC, _CR, _CC, N}) ->
    {A, B} = persistent_term:get(?INPUTS),
    Ks = lists:seq(0, N - 1),
    Columns = [[element(BC + J + 1, element(BR + K + 1, B)) || K <- Ks] || J <- Ks],
    [begin
         Row = element(AR + I + 1, A),
         ARow = [element(AC + K + 1, Row) || K <- Ks],
         [dot(ARow, Column, 0) || Column <- Columns]
     end || I <- Ks].

dot([], [], Sum) -> Sum;
dot([X | Xs], [Y | Ys], Sum) -> dot(Xs, Ys, Sum + X * Y).

add_product(C, D, {_, _, _, _, CR, CC, _}, Rows) ->
    lists:foldl(fun(Row, I) ->
                        lists:foldl(fun(V, J) -> atomics:add(C, (CR + I) * D + CC + J + 1, V), J + 1 end, 0, Row),
                        I + 1
                end, 0, Rows).

wrong_elements(_C, D, I, Wrong) when I =:= D * D -> Wrong;
wrong_elements(C, D, I, Wrong) ->
    Expected = D * (I div D) * (I rem D),
    wrong_elements(C, D, I + 1, Wrong + case atomics:get(C, I + 1) of Expected -> 0; _ -> 1 end).
