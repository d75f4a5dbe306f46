%% Concurrent dictionary: twin of bench/savina/concurrent_dictionary.cpp.
%% W workers each send M requests, one at a time, to one dictionary
%% process; write_percent of them are writes. Keys and the read/write choice
%% come from splitmix64 (seed id * 7919 + 1), drawn as the C++ versions
%% draw them. Every writer stores value_of(Key), so a read answers -1
%% (absent) or value_of(Key). Replies name their key, so a reply to another
%% request is caught; the dictionary counts requests and sums their keys,
%% and both, with the number of distinct keys written, are recomputed from
%% the draws after the timed window.
-module(savina_concurrent_dictionary).
-export([params/0, unit/0, process_flags/0, run/2]).

params() -> ["workers", "messages", "write_percent"].
unit() -> "msg/s".
%% All workers send to the dictionary: off_heap lets them enqueue in
%% parallel. Its map grows to tens of thousands of keys; a larger minimum
%% heap saves the repeated small collections while it grows.
process_flags() -> [{"dictionary", "message_queue_data=off_heap min_heap_size=65536"}].

-define(DICTIONARY_MIN_HEAP_WORDS, 65536).

run(#{"workers" := W, "messages" := M, "write_percent" := P}, Fault) ->
    KeySpace = max(1, 2 * W * M * P div 100),
    Main = self(),
    Dictionary = spawn_opt(fun() -> dictionary(#{}, 0, 0) end,
                           [link, {message_queue_data, off_heap}, {min_heap_size, ?DICTIONARY_MIN_HEAP_WORDS}]),
    Workers = [spawn_link(fun() -> worker_wait(Main, Dictionary, Id, M, P, KeySpace) end) || Id <- lists:seq(0, W - 1)],
    Start = savina_check:now_ns(),
    [Pid ! {start, Fault} || Pid <- Workers],
    [savina_check:await(worker_done) || _ <- Workers],
    Elapsed = savina_check:elapsed_s(Start),
    savina_check:quiesce(),
    savina_check:no_strays(),
    Reports = [savina_check:call(Pid, report) || Pid <- Workers],
    WrongValues = lists:sum([Wrong || {_, Wrong, _} <- Reports]),
    WrongKeys = lists:sum([Misrouted || {_, _, Misrouted} <- Reports]),
    savina_check:check(WrongValues =:= 0, "~b reads returned a value nobody wrote", [WrongValues]),
    savina_check:check(WrongKeys =:= 0, "~b replies answered another request", [WrongKeys]),
    savina_check:check(lists:all(fun({Replies, _, _}) -> Replies =:= M end, Reports),
                       "a worker did not get exactly ~b replies: ~w", [M, [R || {R, _, _} <- Reports]]),
    {Requests, KeySum, Size} = savina_check:call(Dictionary, report),
    {ExpectedKeySum, Written} = replay(W, M, P, KeySpace),
    savina_check:check(Requests =:= W * M, "dictionary got ~b requests, expected ~b", [Requests, W * M]),
    savina_check:check(KeySum =:= ExpectedKeySum, "request keys sum to ~b, expected ~b", [KeySum, ExpectedKeySum]),
    savina_check:check(Size =:= Written, "dictionary holds ~b keys, ~b were written", [Size, Written]),
    #{elapsed_s => Elapsed, messages => 2 * W * M, items => 2 * W * M}.

value_of(Key) -> Key * 31 + 7.

%% {sum of all request keys, number of distinct keys written}.
replay(W, M, P, KeySpace) ->
    {Sum, Keys} = lists:foldl(
                    fun(Id, Acc) -> replay_worker(savina_random:new(Id * 7919 + 1), M, P, KeySpace, Acc) end,
                    {0, #{}}, lists:seq(0, W - 1)),
    {Sum, map_size(Keys)}.

replay_worker(_R, 0, _P, _KeySpace, Acc) -> Acc;
replay_worker(R, Left, P, KeySpace, {Sum, Keys}) ->
    {Key, Write, R1} = draw(R, P, KeySpace),
    replay_worker(R1, Left - 1, P, KeySpace, {Sum + Key, case Write of true -> Keys#{Key => true}; false -> Keys end}).

draw(R, P, KeySpace) ->
    {Key, R1} = savina_random:below(R, KeySpace),
    {Percent, R2} = savina_random:below(R1, 100),
    {Key, Percent < P, R2}.

request(Key, true) -> {write, Key, value_of(Key), self()};
request(Key, false) -> {read, Key, self()}.

worker_wait(Main, Dictionary, Id, M, P, KeySpace) ->
    receive
        {start, Fault} ->
            {Key, Write, R} = draw(savina_random:new(Id * 7919 + 1), P, KeySpace),
            %% Worker 0's first request is the message a fault is injected into.
            case Id of
                0 -> savina_check:send(Fault, Dictionary, request(Key, Write));
                _ -> Dictionary ! request(Key, Write)
            end,
            worker(Main, Dictionary, M, P, KeySpace, R, Key, 1, 0, 0, 0)
    end.

%% Sent: requests sent; Pending: the key of the outstanding one.
worker(Main, Dictionary, M, P, KeySpace, R, Pending, Sent, Replies, Wrong, Misrouted) ->
    receive
        {reply, Pending, Value} ->
            Wrong1 = case Value =:= -1 orelse Value =:= value_of(Pending) of true -> Wrong; false -> Wrong + 1 end,
            case Sent of
                M ->
                    Main ! {worker_done, self()},
                    worker(Main, Dictionary, M, P, KeySpace, R, none, Sent, Replies + 1, Wrong1, Misrouted);
                _ ->
                    {Key, Write, R1} = draw(R, P, KeySpace),
                    Dictionary ! request(Key, Write),
                    worker(Main, Dictionary, M, P, KeySpace, R1, Key, Sent + 1, Replies + 1, Wrong1, Misrouted)
            end;
        {reply, _OtherKey, _Value} ->
            worker(Main, Dictionary, M, P, KeySpace, R, Pending, Sent, Replies + 1, Wrong, Misrouted + 1);
        {report, From, Ref} ->
            From ! {Ref, {Replies, Wrong, Misrouted}},
            worker(Main, Dictionary, M, P, KeySpace, R, Pending, Sent, Replies, Wrong, Misrouted)
    end.

dictionary(Map, Requests, KeySum) ->
    receive
        {write, Key, Value, From} ->
            From ! {reply, Key, Value},
            dictionary(Map#{Key => Value}, Requests + 1, KeySum + Key);
        {read, Key, From} ->
            From ! {reply, Key, maps:get(Key, Map, -1)},
            dictionary(Map, Requests + 1, KeySum + Key);
        {report, From, Ref} ->
            From ! {Ref, {Requests, KeySum, map_size(Map)}},
            dictionary(Map, Requests, KeySum)
    end.
