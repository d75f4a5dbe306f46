%% Thread ring: twin of bench/savina/thread_ring.cpp. N processes in a ring
%% pass a token R hops. The token carries the hops left, so each member
%% knows which step it should be at: step k = R - left must be k mod N =
%% its own index, or the token went to the wrong member. Each member counts
%% the tokens it saw; every count is known in advance (the members up to
%% R mod N see one more than the rest), so a second token, or a lost one,
%% fails the run.
-module(savina_thread_ring).
-export([params/0, unit/0, process_flags/0, run/2]).

params() -> ["actors", "hops"].
unit() -> "msg/s".
process_flags() -> [].

run(#{"actors" := N, "hops" := Hops}, Fault) ->
    Main = self(),
    Ring = list_to_tuple([spawn_link(fun() -> member_wait(Main, I, N, Hops) end) || I <- lists:seq(0, N - 1)]),
    [element(I + 1, Ring) ! {link, element((I + 1) rem N + 1, Ring)} || I <- lists:seq(0, N - 1)],
    Start = savina_check:now_ns(),
    %% The token itself is the message a fault is injected into.
    savina_check:send(Fault, element(1, Ring), {token, Hops}),
    Last = savina_check:await(ring_done),
    Elapsed = savina_check:elapsed_s(Start),
    savina_check:quiesce(),
    savina_check:no_strays(),
    savina_check:check(Last =:= Hops rem N, "token stopped at member ~b, expected ~b", [Last, Hops rem N]),
    lists:foreach(
      fun(I) ->
              {Seen, Misrouted} = savina_check:call(element(I + 1, Ring), report),
              Expected = Hops div N + case I =< Hops rem N of true -> 1; false -> 0 end,
              savina_check:check(Misrouted =:= 0, "member ~b got ~b tokens meant for another", [I, Misrouted]),
              savina_check:check(Seen =:= Expected, "member ~b saw the token ~b times, expected ~b", [I, Seen, Expected])
      end, lists:seq(0, N - 1)),
    #{elapsed_s => Elapsed, messages => Hops, items => Hops}.

member_wait(Main, Id, N, Hops) ->
    receive {link, Next} -> member(Main, Id, N, Hops, Next, 0, 0) end.

member(Main, Id, N, Hops, Next, Seen, Misrouted) ->
    receive
        {token, Left} ->
            Wrong = case (Hops - Left) rem N =:= Id of true -> Misrouted; false -> Misrouted + 1 end,
            case Left of
                0 -> Main ! {ring_done, Id};
                _ -> Next ! {token, Left - 1}
            end,
            member(Main, Id, N, Hops, Next, Seen + 1, Wrong);
        {report, From, Ref} ->
            From ! {Ref, {Seen, Misrouted}},
            member(Main, Id, N, Hops, Next, Seen, Misrouted)
    end.
