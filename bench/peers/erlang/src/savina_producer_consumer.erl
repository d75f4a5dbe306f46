%% Producer-consumer with a bounded buffer: twin of
%% bench/savina/producer_consumer.cpp. Producers make items
%% (savina_work:process_item/2, the C++ process_item()), send them to one
%% buffer process and wait for permission to make the next; the buffer
%% hands items to idle consumers or queues them, and withholds permission
%% while Buffer - Producers items wait (Savina's adjusted size). Consumers
%% work on each item and report idle. When every producer has finished and
%% every consumer is idle, the buffer stops the consumers.
%%
%% Checks as in C++: the buffer expects each producer's items in order and
%% a permission echoes the item it answers; a consumer reported idle twice
%% is wrong; the consumers' counts and checksums add up to every item made
%% exactly once. Wrong events are counted where they are seen and checked
%% once the system is quiet.
-module(savina_producer_consumer).
-export([params/0, unit/0, process_flags/0, run/2]).

params() -> ["buffer", "producers", "consumers", "items", "produce_cost", "consume_cost"].
unit() -> "msg/s".
%% Every producer and consumer sends to the buffer: off_heap lets them
%% enqueue in parallel.
process_flags() -> [{"buffer", "message_queue_data=off_heap"}].

-define(WRONG, 1).

run(#{"buffer" := B, "producers" := P, "consumers" := C, "items" := I,
      "produce_cost" := ProduceCost, "consume_cost" := ConsumeCost}, Fault) ->
    Main = self(),
    Wrong = atomics:new(1, [{signed, true}]),
    Buffer = spawn_opt(fun() -> buffer_wait(B, I, Wrong) end, [link, {message_queue_data, off_heap}]),
    Producers = list_to_tuple([spawn_link(fun() -> producer(Buffer, Id, I, ProduceCost, Fault, Wrong, 0, 0.0) end)
                               || Id <- lists:seq(0, P - 1)]),
    Consumers = list_to_tuple([spawn_link(fun() -> consumer(Main, Buffer, Id, I, ConsumeCost, 0, 0, 0.0) end)
                               || Id <- lists:seq(0, C - 1)]),
    Buffer ! {init, Producers, Consumers},
    Start = savina_check:now_ns(),
    [Pid ! {produce, 0} || Pid <- tuple_to_list(Producers)],
    Results = [savina_check:await(consumer_done) || _ <- lists:seq(1, C)],
    Elapsed = savina_check:elapsed_s(Start),
    savina_check:quiesce(),
    savina_check:no_strays(),
    Made = P * I,
    Consumed = lists:sum([N || {N, _} <- Results]),
    Checksum = lists:sum([S || {_, S} <- Results]),
    Bad = atomics:get(Wrong, ?WRONG),
    savina_check:check(Bad =:= 0, "~b items, permissions or idle reports came out of order or twice", [Bad]),
    savina_check:check(Consumed =:= Made, "~b items were consumed, ~b made", [Consumed, Made]),
    savina_check:check(Checksum =:= Made * (Made + 1) div 2, "the consumed items' checksum is ~b, expected ~b",
                       [Checksum, Made * (Made + 1) div 2]),
    #{elapsed_s => Elapsed, messages => 4 * Made, items => 4 * Made}.

wrong(Wrong) -> atomics:add(Wrong, ?WRONG, 1).

%% -- producer --------------------------------------------------------------------

%% Made: items made so far; a permission must answer the last of them. The
%% first item of the first producer to make one is the message a fault is
%% injected into (each producer's first item may be; only producer 0's is).
producer(Buffer, Id, I, Cost, Fault, Wrong, Made, Value) ->
    receive
        {produce, Seq} ->
            Seq =:= Made orelse wrong(Wrong),
            case Made of
                I ->
                    Buffer ! {finished, Id};
                _ ->
                    Value1 = savina_work:process_item(Value, Cost),
                    Message = {data, Id, Made + 1, Value1},
                    case {Id, Made} of
                        {0, 0} -> savina_check:send(Fault, Buffer, Message);
                        _ -> Buffer ! Message
                    end,
                    producer(Buffer, Id, I, Cost, Fault, Wrong, Made + 1, Value1)
            end
    end.

%% -- consumer --------------------------------------------------------------------

consumer(Main, Buffer, Id, I, Cost, Consumed, Checksum, Value) ->
    receive
        {item, Producer, Seq, ItemValue} ->
            Value1 = savina_work:process_item(Value + ItemValue, Cost),
            Buffer ! {idle, Id},
            consumer(Main, Buffer, Id, I, Cost, Consumed + 1, Checksum + Producer * I + Seq, Value1);
        stop ->
            Main ! {consumer_done, {Consumed, Checksum}}
    end.

%% -- buffer ----------------------------------------------------------------------

buffer_wait(B, I, Wrong) ->
    receive
        {init, Producers, Consumers} ->
            P = tuple_size(Producers),
            C = tuple_size(Consumers),
            buffer(#{producers => Producers, consumers => Consumers, items => I, wrong => Wrong,
                     limit => max(1, B - P),
                     next_seq => list_to_tuple(lists:duplicate(P, 1)),
                     idle => list_to_tuple(lists:duplicate(C, true)),
                     done => 0},
                   queue:new(), 0, queue:from_list(lists:seq(0, C - 1)), queue:new())
    end.

%% Pending: items waiting for a consumer (and their count); Idle: idle
%% consumers; Parked: items whose producer waits for permission.
buffer(S, Pending, PendingCount, Idle, Parked) ->
    receive
        {data, Producer, Seq, Value} ->
            S1 = expect(S, Producer, Seq),
            Item = {Producer, Seq, Value},
            {S2, Pending1, PendingCount1, Idle1} =
                case queue:out(Idle) of
                    {{value, Consumer}, Rest} -> {hand_to(S1, Consumer, Item), Pending, PendingCount, Rest};
                    {empty, _} -> {S1, queue:in(Item, Pending), PendingCount + 1, Idle}
                end,
            case PendingCount1 >= maps:get(limit, S2) of
                true -> buffer(S2, Pending1, PendingCount1, Idle1, queue:in(Item, Parked));
                false ->
                    element(Producer + 1, maps:get(producers, S2)) ! {produce, Seq},
                    buffer(S2, Pending1, PendingCount1, Idle1, Parked)
            end;
        {idle, Consumer} ->
            element(Consumer + 1, maps:get(idle, S)) andalso wrong(maps:get(wrong, S)),
            case queue:out(Pending) of
                {empty, _} ->
                    S1 = S#{idle := setelement(Consumer + 1, maps:get(idle, S), true)},
                    Idle1 = queue:in(Consumer, Idle),
                    try_finish(S1, Idle1),
                    buffer(S1, Pending, PendingCount, Idle1, Parked);
                {{value, Item}, Pending1} ->
                    S1 = hand_to(S, Consumer, Item),
                    case queue:out(Parked) of
                        {{value, {Producer, Seq, _}}, Parked1} ->
                            element(Producer + 1, maps:get(producers, S1)) ! {produce, Seq},
                            buffer(S1, Pending1, PendingCount - 1, Idle, Parked1);
                        {empty, _} ->
                            buffer(S1, Pending1, PendingCount - 1, Idle, Parked)
                    end
            end;
        {finished, Producer} ->
            element(Producer + 1, maps:get(next_seq, S)) =:= maps:get(items, S) + 1
                orelse wrong(maps:get(wrong, S)),
            S1 = S#{done := maps:get(done, S) + 1},
            try_finish(S1, Idle),
            buffer(S1, Pending, PendingCount, Idle, Parked)
    end.

%% Items of one producer arrive in order, numbered from 1.
expect(S = #{next_seq := Next}, Producer, Seq) ->
    Expected = element(Producer + 1, Next),
    Seq =:= Expected orelse wrong(maps:get(wrong, S)),
    S#{next_seq := setelement(Producer + 1, Next, Expected + 1)}.

hand_to(S = #{consumers := Consumers, idle := IdleFlags}, Consumer, {Producer, Seq, Value}) ->
    element(Consumer + 1, Consumers) ! {item, Producer, Seq, Value},
    S#{idle := setelement(Consumer + 1, IdleFlags, false)}.

try_finish(#{done := Done, producers := Producers, consumers := Consumers}, Idle) ->
    case Done =:= tuple_size(Producers) andalso queue:len(Idle) =:= tuple_size(Consumers) of
        true -> [Pid ! stop || Pid <- tuple_to_list(Consumers)];
        false -> ok
    end.
