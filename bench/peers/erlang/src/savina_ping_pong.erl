%% Ping-pong: twin of bench/savina/ping_pong.cpp. The pinger numbers its
%% pings; the ponger echoes the number, and the pinger accepts only the pong
%% of the ping it is waiting for, so a duplicated or stray pong fails the
%% run. Both count what they handled, checked once the system is quiet.
-module(savina_ping_pong).
-export([params/0, unit/0, process_flags/0, run/2]).

params() -> ["pings"].
unit() -> "msg/s".
process_flags() -> [].

run(#{"pings" := Pings}, Fault) ->
    Main = self(),
    Pinger = spawn_link(fun() -> pinger_wait(Pings, Main, Fault) end),
    Ponger = spawn_link(fun() -> ponger(Pinger, 0) end),
    Start = savina_check:now_ns(),
    Pinger ! {start, Ponger},
    Received = savina_check:await(pinger_done),
    Elapsed = savina_check:elapsed_s(Start),
    savina_check:quiesce(),
    {PingerCount, Wrong} = savina_check:call(Pinger, report),
    PongerCount = savina_check:call(Ponger, report),
    savina_check:check(Wrong =:= 0, "~b pongs answered a ping that was not outstanding", [Wrong]),
    savina_check:check(Received =:= Pings andalso PingerCount =:= Pings,
                       "pinger saw ~b pongs (~b at the end), expected ~b", [Received, PingerCount, Pings]),
    savina_check:check(PongerCount =:= Pings, "ponger saw ~b pings, expected ~b", [PongerCount, Pings]),
    #{elapsed_s => Elapsed, messages => 2 * Pings, items => 2 * Pings}.

pinger_wait(Pings, Main, Fault) ->
    receive
        {start, Ponger} ->
            %% The first ping is the one a fault is injected into.
            savina_check:send(Fault, Ponger, {ping, 1}),
            pinger(Ponger, Pings, Main, 1, 0)
    end.

%% Sent: the number of the outstanding ping; Wrong: pongs that did not match.
pinger(Ponger, Pings, Main, Sent, Wrong) ->
    receive
        {pong, Sent} when Sent =:= Pings ->
            Main ! {pinger_done, Sent},
            pinger(Ponger, Pings, Main, Sent + 1, Wrong);
        {pong, Sent} ->
            Ponger ! {ping, Sent + 1},
            pinger(Ponger, Pings, Main, Sent + 1, Wrong);
        {pong, _Other} ->
            pinger(Ponger, Pings, Main, Sent, Wrong + 1);
        {report, From, Ref} ->
            From ! {Ref, {Sent - 1, Wrong}},
            pinger(Ponger, Pings, Main, Sent, Wrong)
    end.

ponger(Pinger, Count) ->
    receive
        {ping, N} ->
            Pinger ! {pong, N},
            ponger(Pinger, Count + 1);
        {report, From, Ref} ->
            From ! {Ref, Count},
            ponger(Pinger, Count)
    end.
