%% Big: twin of bench/savina/big.cpp. W actors each send N pings, one at a
%% time, to peers drawn by splitmix64 (seed id + 1, never themselves); the
%% peer pongs back. A ping carries its sender's sequence number and the
%% pong echoes it, so a pong for any ping but the outstanding one is wrong.
%% Every actor counts the pings it got; since the draws are the same on
%% every runtime, the exact count per actor is recomputed after the timed
%% window, so a ping lost, repeated or sent to the wrong peer fails the run.
-module(savina_big).
-export([params/0, unit/0, process_flags/0, run/2]).

params() -> ["actors", "pings"].
unit() -> "msg/s".
process_flags() -> [].

run(#{"actors" := W, "pings" := N}, Fault) ->
    Main = self(),
    Actors = list_to_tuple([spawn_link(fun() -> actor_wait(Main, Id, N) end) || Id <- lists:seq(0, W - 1)]),
    [Pid ! {peers, Actors} || Pid <- tuple_to_list(Actors)],
    Start = savina_check:now_ns(),
    [element(Id + 1, Actors) ! {start, Fault} || Id <- lists:seq(0, W - 1)],
    [savina_check:await(big_done) || _ <- lists:seq(1, W)],
    Elapsed = savina_check:elapsed_s(Start),
    savina_check:quiesce(),
    savina_check:no_strays(),
    Expected = expected_pings(W, N),
    lists:foreach(
      fun(Id) ->
              {Pongs, PingsSeen, Wrong} = savina_check:call(element(Id + 1, Actors), report),
              savina_check:check(Wrong =:= 0, "actor ~b got ~b pongs for pings it was not waiting on", [Id, Wrong]),
              savina_check:check(Pongs =:= N, "actor ~b got ~b pongs, expected ~b", [Id, Pongs, N]),
              savina_check:check(PingsSeen =:= maps:get(Id, Expected, 0),
                                 "actor ~b got ~b pings, expected ~b", [Id, PingsSeen, maps:get(Id, Expected, 0)])
      end, lists:seq(0, W - 1)),
    #{elapsed_s => Elapsed, messages => 2 * W * N, items => 2 * W * N}.

%% The pings each actor receives, from the same draws the actors make.
expected_pings(W, N) ->
    lists:foldl(fun(Id, Acc) -> draw_targets(savina_random:new(Id + 1), Id, W, N, Acc) end, #{}, lists:seq(0, W - 1)).

draw_targets(_R, _Id, _W, 0, Acc) -> Acc;
draw_targets(R, Id, W, Left, Acc) ->
    {Target, R1} = target(R, Id, W),
    draw_targets(R1, Id, W, Left - 1, maps:update_with(Target, fun(C) -> C + 1 end, 1, Acc)).

target(R, Id, W) ->
    {T, R1} = savina_random:below(R, W - 1),
    {case T >= Id of true -> T + 1; false -> T end, R1}.

actor_wait(Main, Id, N) ->
    receive
        {peers, Peers} ->
            receive
                {start, Fault} ->
                    {Target, R} = target(savina_random:new(Id + 1), Id, tuple_size(Peers)),
                    %% Actor 0's first ping is the message a fault is injected into.
                    case Id of
                        0 -> savina_check:send(Fault, element(Target + 1, Peers), {ping, Id, 1});
                        _ -> element(Target + 1, Peers) ! {ping, Id, 1}
                    end,
                    actor(Main, Id, N, Peers, R, 1, 0, 0, 0)
            end
    end.

%% Sent: the sequence number of the outstanding ping; Pongs: pongs that
%% matched; PingsSeen: pings from peers; Wrong: pongs that did not match.
actor(Main, Id, N, Peers, R, Sent, Pongs, PingsSeen, Wrong) ->
    receive
        {ping, From, Seq} ->
            element(From + 1, Peers) ! {pong, Seq},
            actor(Main, Id, N, Peers, R, Sent, Pongs, PingsSeen + 1, Wrong);
        {pong, Sent} when Pongs + 1 =:= N ->
            Main ! {big_done, Id},
            actor(Main, Id, N, Peers, R, Sent + 1, Pongs + 1, PingsSeen, Wrong);
        {pong, Sent} ->
            {Target, R1} = target(R, Id, tuple_size(Peers)),
            element(Target + 1, Peers) ! {ping, Id, Sent + 1},
            actor(Main, Id, N, Peers, R1, Sent + 1, Pongs + 1, PingsSeen, Wrong);
        {pong, _Stale} ->
            actor(Main, Id, N, Peers, R, Sent, Pongs, PingsSeen, Wrong + 1);
        {report, From, Ref} ->
            From ! {Ref, {Pongs, PingsSeen, Wrong}},
            actor(Main, Id, N, Peers, R, Sent, Pongs, PingsSeen, Wrong)
    end.
