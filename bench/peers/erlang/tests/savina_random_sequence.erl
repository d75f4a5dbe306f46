%% Prints savina_random's output for the seeds and in the format of
%% prng_reference.cpp, which prints the C++ pseudo_random's.
-module(savina_random_sequence).
-export([print/0]).

print() ->
    lists:foreach(fun seed/1, [0, 1, 42, 7919 * 19 + 1, 16#FFFFFFFFFFFFFFFF]).

seed(Seed) ->
    io:format("seed ~b~n", [Seed]),
    R0 = savina_random:new(Seed),
    R1 = repeat(4, R0, fun(R) -> {V, R1} = savina_random:next(R), io:format("next ~b~n", [V]), R1 end),
    R2 = repeat(3, R1, fun(R) -> {V, R2} = savina_random:below(R, 1000), io:format("below1000 ~b~n", [V]), R2 end),
    R3 = repeat(2, R2, fun(R) -> {V, R3} = savina_random:below(R, 119), io:format("below119 ~b~n", [V]), R3 end),
    repeat(2, R3, fun(R) ->
                          {U, R4} = savina_random:unit(R),
                          <<Bits:64/unsigned>> = <<U/float>>,
                          io:format("unit_bits ~b~n", [Bits]),
                          R4
                  end).

repeat(0, R, _Step) -> R;
repeat(N, R, Step) -> repeat(N - 1, Step(R), Step).
