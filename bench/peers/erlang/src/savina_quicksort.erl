%% Quicksort: twin of bench/savina/quicksort.cpp. A sort process that gets
%% fewer than `threshold` values sorts them sequentially and replies; one
%% that gets more splits them around the middle value, spawns a child for
%% each side, and replies with both sorted sides joined around the pivot's
%% run once both children have replied. The input is `elements` splitmix64
%% values from `seed`, below 2^59 (quicksort_input() in
%% reference_answers.cpp); the split and the sequential sort are the C++
%% ones (quicksort_partition(), quicksort_sequential()) written on lists.
%%
%% A sort process takes exactly one request and one reply per side, and
%% exits after its reply, freeing its heap (the copies of its values), as
%% volley's and CAF's sort actors go once they have replied. The one process
%% a fault can reach twice, the root's `less` child, stays alive after
%% replying when a fault is injected, and anything that reaches it later (a
%% duplicate) is reported to the measuring process, which finds it after
%% quiesce/0. A lost message leaves the root waiting (await/1 reports the
%% stall). The result must equal the input sorted by lists:sort/1.
-module(savina_quicksort).
-export([params/0, unit/0, process_flags/0, run/2, input/2, sequential/1]).

params() -> ["elements", "threshold", "seed"].
unit() -> "elements/s".
process_flags() -> [].

run(#{"elements" := Elements, "threshold" := Threshold, "seed" := Seed}, Fault) ->
    Input = input(Elements, Seed),
    Main = self(),
    Root = spawn_link(fun() -> sorter(Main, root, Threshold, Fault, false) end),
    Start = savina_check:now_ns(),
    Root ! {sort, Input},
    {Sorted, Actors} = savina_check:await(sorted),
    Elapsed = savina_check:elapsed_s(Start),
    savina_check:quiesce(),
    savina_check:no_strays(),
    savina_check:check(length(Sorted) =:= Elements, "~b values came back, ~b went in", [length(Sorted), Elements]),
    savina_check:check(Sorted =:= lists:sort(Input), "the values came back out of order or changed", []),
    %% A request to each process and a reply from each.
    #{elapsed_s => Elapsed, messages => 2 * Actors, items => Elements}.

%% Parent: the parent's pid, or `root` (the answer goes to Main). Fault:
%% applies to this process's request to its `less` child (the root's only).
%% Watched: this process may get that request twice, so it stays to see.
sorter(Main, Parent, Threshold, Fault, Watched) ->
    receive
        {sort, Values} when length(Values) < Threshold ->
            reply(Main, Parent, sequential(Values), 1),
            after_reply(Main, Watched);
        {sort, Values} ->
            {Less, Equal, Greater} = partition(Values),
            Self = self(),
            WatchLess = Fault =/= none,
            LessChild = spawn_link(fun() -> sorter(Main, {Self, less}, Threshold, none, WatchLess) end),
            GreaterChild = spawn_link(fun() -> sorter(Main, {Self, greater}, Threshold, none, false) end),
            savina_check:send(Fault, LessChild, {sort, Less}),
            GreaterChild ! {sort, Greater},
            join(Main, Parent, Watched, Equal, none, none)
    end.

join(Main, Parent, Watched, Equal, {LessSorted, LessActors}, {GreaterSorted, GreaterActors}) ->
    reply(Main, Parent, LessSorted ++ Equal ++ GreaterSorted, LessActors + GreaterActors + 1),
    after_reply(Main, Watched);
join(Main, Parent, Watched, Equal, Less, Greater) ->
    receive
        {sorted, less, Part} when Less =:= none -> join(Main, Parent, Watched, Equal, Part, Greater);
        {sorted, greater, Part} when Greater =:= none -> join(Main, Parent, Watched, Equal, Less, Part);
        {sort, _} -> Main ! {wrong, "a sort process got a second request"};
        {sorted, _, _} -> Main ! {wrong, "a sort process got a second reply for one side"}
    end.

reply(Main, root, Sorted, Actors) -> Main ! {sorted, {Sorted, Actors}};
reply(_Main, {Parent, Side}, Sorted, Actors) -> Parent ! {sorted, Side, {Sorted, Actors}}.

%% After its reply an unwatched process exits; a watched one waits: anything
%% more is a duplicate, which the measuring process finds in its mailbox
%% (no_strays/0).
after_reply(_Main, false) -> ok;
after_reply(Main, true) -> done(Main).

done(Main) ->
    receive
        {sort, _} -> Main ! {wrong, "a sort process got a second request"}, done(Main);
        {sorted, _, _} -> Main ! {wrong, "a sort process got a second reply"}, done(Main)
    end.

%% {Less, Equal, Greater} around the middle element, each in input order,
%% as quicksort_partition().
partition(Values) ->
    Pivot = lists:nth(length(Values) div 2 + 1, Values),
    {[V || V <- Values, V < Pivot], [V || V <- Values, V =:= Pivot], [V || V <- Values, V > Pivot]}.

%% The sort below the threshold, as quicksort_sequential().
sequential([]) -> [];
sequential([V]) -> [V];
sequential(Values) ->
    {Less, Equal, Greater} = partition(Values),
    sequential(Less) ++ Equal ++ sequential(Greater).

%% Elements splitmix64 values below 2^59 from Seed, as quicksort_input().
input(Elements, Seed) -> input(Elements, savina_random:new(Seed), []).

input(0, _State, Acc) -> lists:reverse(Acc);
input(N, State, Acc) ->
    {V, State1} = savina_random:below(State, 1 bsl 59),
    input(N - 1, State1, [V | Acc]).
