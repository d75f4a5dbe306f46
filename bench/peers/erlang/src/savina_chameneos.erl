%% Chameneos: twin of bench/savina/chameneos.cpp. C creatures meet through a
%% mall M times; a meeting changes both colours by the complement rule.
%% Each creature has at most one request at the mall, so a meet, change or
%% fade that arrives while none is outstanding is a duplicate or stray and
%% is counted as wrong. The creatures' meeting counts must sum to 2 M, each
%% creature must fade exactly once, and the mall's inbox count must match
%% once the system is quiet.
-module(savina_chameneos).
-export([params/0, unit/0, process_flags/0, run/2]).

params() -> ["chameneos", "meetings"].
unit() -> "msg/s".
%% Every creature sends to the mall: off_heap lets many senders enqueue
%% without the mall's main lock (OTP 25's parallel signal queues).
process_flags() -> [{"mall", "message_queue_data=off_heap"}].

run(#{"chameneos" := C, "meetings" := M}, Fault) ->
    Main = self(),
    Mall = spawn_opt(fun() -> mall(Main, M, C, none, 0, 0, 0) end, [link, {message_queue_data, off_heap}]),
    Creatures = [spawn_link(fun() -> creature_wait(Mall, I rem 3) end) || I <- lists:seq(0, C - 1)],
    Start = savina_check:now_ns(),
    [First | Rest] = Creatures,
    %% The first creature's start is the message a fault is injected into.
    savina_check:send(Fault, First, start),
    [Pid ! start || Pid <- Rest],
    {MeetingsSum, Received} = savina_check:await(mall_done),
    Elapsed = savina_check:elapsed_s(Start),
    savina_check:quiesce(),
    savina_check:no_strays(),
    savina_check:check(MeetingsSum =:= 2 * M, "creatures report ~b meetings in all, expected ~b", [MeetingsSum, 2 * M]),
    {FinalReceived, Faded} = savina_check:call(Mall, report),
    savina_check:check(FinalReceived =:= Received andalso Faded =:= C,
                       "mall got ~b messages after it finished and ~b fades, expected ~b",
                       [FinalReceived - Received, Faded, C]),
    Reports = [savina_check:call(Pid, report) || Pid <- Creatures],
    Wrong = lists:sum([W || {_, W} <- Reports]),
    savina_check:check(Wrong =:= 0, "creatures got ~b messages with no request at the mall", [Wrong]),
    savina_check:check(lists:sum([Ms || {Ms, _} <- Reports]) =:= 2 * M, "creature counts do not sum to ~b", [2 * M]),
    #{elapsed_s => Elapsed, messages => Received + 2 * M + C, items => Received + 2 * M + C}.

complement(A, A) -> A;
complement(A, B) -> 3 - A - B.

mall(Main, Left, C, Waiting, Faded, Sum, Received) ->
    receive
        {meet, Colour, From} ->
            case {Left, Waiting} of
                {0, _} ->
                    From ! fade,
                    mall(Main, 0, C, Waiting, Faded, Sum, Received + 1);
                {_, none} ->
                    mall(Main, Left, C, {Colour, From}, Faded, Sum, Received + 1);
                {_, {_, WaitingPid}} ->
                    WaitingPid ! {met, Colour, From},
                    mall(Main, Left - 1, C, none, Faded, Sum, Received + 1)
            end;
        {count, Meetings} ->
            case Faded + 1 =:= C of
                true -> Main ! {mall_done, {Sum + Meetings, Received + 1}};
                false -> ok
            end,
            mall(Main, Left, C, Waiting, Faded + 1, Sum + Meetings, Received + 1);
        {report, From, Ref} ->
            From ! {Ref, {Received, Faded}},
            mall(Main, Left, C, Waiting, Faded, Sum, Received)
    end.

creature_wait(Mall, Colour) ->
    receive
        start ->
            Mall ! {meet, Colour, self()},
            creature(Mall, Colour, 0, true, 0)
    end.

%% Outstanding: whether a meet request is at the mall; Wrong: answers that
%% came without one.
creature(Mall, Colour, Meetings, Outstanding, Wrong) ->
    receive
        {met, OtherColour, Other} when Outstanding ->
            New = complement(Colour, OtherColour),
            Other ! {change, New},
            Mall ! {meet, New, self()},
            creature(Mall, New, Meetings + 1, true, Wrong);
        {change, New} when Outstanding ->
            Mall ! {meet, New, self()},
            creature(Mall, New, Meetings + 1, true, Wrong);
        fade when Outstanding ->
            Mall ! {count, Meetings},
            creature(Mall, Colour, Meetings, false, Wrong);
        {report, From, Ref} ->
            From ! {Ref, {Meetings, Wrong}},
            creature(Mall, Colour, Meetings, Outstanding, Wrong);
        start -> creature(Mall, Colour, Meetings, Outstanding, Wrong + 1);
        _NotOutstanding -> creature(Mall, Colour, Meetings, Outstanding, Wrong + 1)
    end.
