%% splitmix64, bit-exact with volley::savina::pseudo_random
%% (bench/savina/common/include/volley/savina/pseudo_random.hpp).
%%
%% Erlang integers do not wrap, so every step masks to 64 bits; results
%% above 2^59 are bignums, which costs a little but keeps the sequence
%% identical to the C++ one, so every runtime draws the same peers, keys and
%% amounts. The state is a plain integer threaded through the caller.
-module(savina_random).
-export([new/1, next/1, below/2, unit/1]).

-define(MASK64, 16#FFFFFFFFFFFFFFFF).

new(Seed) -> Seed band ?MASK64.

%% {Value, NewState}: the published splitmix64 constants (Steele, Lea,
%% Flood 2014), as in the C++ header.
next(State) ->
    S = (State + 16#9E3779B97F4A7C15) band ?MASK64,
    Z1 = ((S bxor (S bsr 30)) * 16#BF58476D1CE4E5B9) band ?MASK64,
    Z2 = ((Z1 bxor (Z1 bsr 27)) * 16#94D049BB133111EB) band ?MASK64,
    {Z2 bxor (Z2 bsr 31), S}.

%% Uniform in [0, Bound) by modulo, as the C++ below().
below(State, Bound) ->
    {V, S} = next(State),
    {V rem Bound, S}.

%% Uniform in [0, 1): the top 53 bits times 2^-53, as the C++ unit().
unit(State) ->
    {V, S} = next(State),
    {(V bsr 11) * (1.0 / 9007199254740992), S}.
