%% Sieve: twin of bench/savina/sieve.cpp. A producer sends the odd numbers
%% 3, 5, ... below `limit` to a chain of filter processes; the first filter
%% starts with the prime 2. A filter drops a candidate that one of its
%% primes divides (trying them in the order found, as the C++ twins do),
%% passes it on when it has a successor, keeps it while it holds fewer than
%% `per_filter` primes, and otherwise spawns its successor with the
%% candidate as that filter's first prime.
%%
%% The producer ends the stream with an `end` message carrying how many
%% candidates it sent; each filter compares that with what it received and
%% passes on how many it forwarded, with the running count, sum and
%% position-weighted sum of the primes so far and the number of filters
%% whose count was off. The last filter's totals must equal a sequential
%% sieve and no count may be off.
-module(savina_sieve).
-export([params/0, unit/0, process_flags/0, run/2, primes_below/1]).

params() -> ["limit", "per_filter"].
unit() -> "msg/s".
%% The producer sends the whole stream at once into the first filter:
%% off_heap lets it enqueue without taking the filter's main lock.
process_flags() -> [{"filter", "message_queue_data=off_heap"}].

run(#{"limit" := Limit, "per_filter" := PerFilter}, Fault) ->
    Main = self(),
    Head = spawn_filter(Main, 2, PerFilter, Fault),
    Producer = spawn_link(fun() -> receive start -> produce(Head, 3, Limit, 0) end end),
    Start = savina_check:now_ns(),
    Producer ! start,
    {Count, Sum, Weighted, Messages, Filters, Miscounted} = savina_check:await(sieve_done),
    Elapsed = savina_check:elapsed_s(Start),
    savina_check:quiesce(),
    savina_check:no_strays(),
    savina_check:check(Miscounted =:= 0, "~b of ~b filters received more or fewer candidates than sent to them",
                       [Miscounted, Filters]),
    Expected = primes_below(Limit),
    savina_check:check({Count, Sum, Weighted} =:= Expected,
                       "primes: count, sum, weighted sum ~p; expected ~p", [{Count, Sum, Weighted}, Expected]),
    #{elapsed_s => Elapsed, messages => Messages, items => Messages}.

produce(Head, Value, Limit, Sent) when Value >= Limit ->
    Head ! {'end', Sent, 0, 0, 0, 0, 0, 0};
produce(Head, Value, Limit, Sent) ->
    Head ! {candidate, Value},
    produce(Head, Value + 2, Limit, Sent + 1).

spawn_filter(Main, FirstPrime, Capacity, Fault) ->
    spawn_opt(fun() -> filter(Main, Capacity, [FirstPrime], 1, none, 0, 0, Fault) end,
              [link, {message_queue_data, off_heap}]).

%% Primes: held in the order found (ascending); Held: their number; Next:
%% the successor or none; Fault: applies to this filter's first forward
%% only (the first filter's; the others get none).
filter(Main, Capacity, Primes, Held, Next, Received, Forwarded, Fault) ->
    receive
        {candidate, Value} ->
            case divides(Value, Primes) of
                true ->
                    filter(Main, Capacity, Primes, Held, Next, Received + 1, Forwarded, Fault);
                false when Next =/= none ->
                    savina_check:send(Fault, Next, {candidate, Value}),
                    filter(Main, Capacity, Primes, Held, Next, Received + 1, Forwarded + 1, none);
                false when Held < Capacity ->
                    filter(Main, Capacity, Primes ++ [Value], Held + 1, Next, Received + 1, Forwarded, Fault);
                false ->
                    Successor = spawn_filter(Main, Value, Capacity, none),
                    filter(Main, Capacity, Primes, Held, Successor, Received + 1, Forwarded, Fault)
            end;
        {'end', Candidates, Count, Sum, Weighted, Messages, Filters, Miscounted} ->
            {Count1, Sum1, Weighted1} = add_primes(Primes, Count, Sum, Weighted),
            Miscounted1 = Miscounted + case Candidates =:= Received of true -> 0; false -> 1 end,
            Totals = {Count1, Sum1, Weighted1, Messages + Received + 1, Filters + 1, Miscounted1},
            case Next of
                none -> Main ! {sieve_done, Totals};
                _ -> Next ! list_to_tuple(['end', Forwarded | tuple_to_list(Totals)])
            end
    end.

divides(_Value, []) -> false;
divides(Value, [P | Ps]) -> Value rem P =:= 0 orelse divides(Value, Ps).

add_primes([], Count, Sum, Weighted) -> {Count, Sum, Weighted};
add_primes([P | Ps], Count, Sum, Weighted) ->
    add_primes(Ps, Count + 1, Sum + P, Weighted + (Count + 1) * P).

%% {Count, Sum, Weighted sum} of the primes below Limit by a sieve of
%% Eratosthenes, as sieve_primes_below() in reference_answers.cpp.
primes_below(Limit) when Limit =< 2 -> {0, 0, 0};
primes_below(Limit) ->
    Composite = atomics:new(Limit, []),
    eratosthenes(Composite, 2, Limit, 0, 0, 0).

eratosthenes(_Composite, N, Limit, Count, Sum, Weighted) when N >= Limit -> {Count, Sum, Weighted};
eratosthenes(Composite, N, Limit, Count, Sum, Weighted) ->
    case atomics:get(Composite, N) of
        1 -> eratosthenes(Composite, N + 1, Limit, Count, Sum, Weighted);
        0 ->
            mark(Composite, N * N, N, Limit),
            eratosthenes(Composite, N + 1, Limit, Count + 1, Sum + N, Weighted + (Count + 1) * N)
    end.

mark(_Composite, M, _Step, Limit) when M >= Limit -> ok;
mark(Composite, M, Step, Limit) -> atomics:put(Composite, M, 1), mark(Composite, M + Step, Step, Limit).
