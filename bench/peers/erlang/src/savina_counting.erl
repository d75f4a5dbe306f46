%% Counting: twin of bench/savina/counting.cpp. The producer sends N
%% numbered increments, then asks for the total. The counter keeps both the
%% count and the sum of the numbers, so a lost or duplicated increment
%% changes the answer (the sum is 1 + ... + N only if each came once).
-module(savina_counting).
-export([params/0, unit/0, process_flags/0, run/2]).

params() -> ["messages"].
unit() -> "msg/s".
%% The producer outruns the counter, so millions of increments queue up;
%% off_heap keeps them out of the counter's heap, so its garbage collections
%% do not copy the backlog.
process_flags() -> [{"counter", "message_queue_data=off_heap"}].

run(#{"messages" := N}, Fault) ->
    Main = self(),
    Counter = spawn_opt(fun() -> counter(0, 0) end, [link, {message_queue_data, off_heap}]),
    Producer = spawn_link(fun() -> producer(Counter, N, Main, Fault) end),
    Start = savina_check:now_ns(),
    Producer ! start,
    {Count, Sum} = savina_check:await(total),
    Elapsed = savina_check:elapsed_s(Start),
    savina_check:quiesce(),
    savina_check:no_strays(),
    savina_check:check(Count =:= N, "counter reached ~b, expected ~b", [Count, N]),
    savina_check:check(Sum =:= N * (N + 1) div 2, "increments sum to ~b, expected ~b", [Sum, N * (N + 1) div 2]),
    #{elapsed_s => Elapsed, messages => N + 2, items => N + 2}.

producer(Counter, N, Main, Fault) ->
    receive
        start ->
            %% The first increment is the one a fault is injected into.
            savina_check:send(Fault, Counter, {increment, 1}),
            send_increments(Counter, 2, N),
            Counter ! {get_total, Main}
    end.

send_increments(_Counter, I, N) when I > N -> ok;
send_increments(Counter, I, N) ->
    Counter ! {increment, I},
    send_increments(Counter, I + 1, N).

counter(Count, Sum) ->
    receive
        {increment, I} -> counter(Count + 1, Sum + I);
        {get_total, ReplyTo} ->
            ReplyTo ! {total, {Count, Sum}},
            counter(Count, Sum)
    end.
