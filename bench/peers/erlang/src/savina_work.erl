%% The CPU work of the producer-consumer, sleeping barber and cigarette
%% smokers workloads, step for step as busy_wait() and process_item() in
%% bench/savina/common/src/reference_answers.cpp: a 28-bit linear
%% congruential generator, x <- (69069 x + 1) mod 2^28. Its products stay
%% below 2^45, so every step is a small-integer multiply (no bignums, unlike
%% splitmix64 in savina_random), and process_item/2 adds the same libm logs
%% in the same order as the C++ loop.
-module(savina_work).
-export([busy_wait/1, process_item/2]).

-define(MULTIPLIER, 69069).
-define(MASK, 16#FFFFFFF).

%% Iterations steps from x = 1; returns the last x.
busy_wait(Iterations) -> busy_wait(Iterations, 1).

busy_wait(0, X) -> X;
busy_wait(N, X) -> busy_wait(N - 1, (X * ?MULTIPLIER + 1) band ?MASK).

%% Current plus Cost x 100 terms log(u + 0.01), u = x / 2^28, x seeded with Cost.
process_item(Current, Cost) -> process_item(Cost * 100, Cost band ?MASK, Current).

process_item(0, _X, Result) -> Result;
process_item(N, X, Result) ->
    X1 = (X * ?MULTIPLIER + 1) band ?MASK,
    process_item(N - 1, X1, Result + math:log(X1 / 268435456 + 0.01)).
