%% Answer checks, stall detection and fault injection shared by the Erlang
%% workloads.
%%
%% Every workload must fail (exit 2) when one message is lost, duplicated or
%% misrouted. Three tools make that cheap to write:
%%
%% * await/1: the measuring process waits for its completion message. When
%%   it is not coming because a message was lost, every process is waiting
%%   in `receive` with nothing to do; await/1 notices that the emulator has
%%   gone idle (no process running or runnable but the caller, several
%%   samples in a row) and reports a stall instead of hanging forever.
%% * quiesce/0 then call/2: after the timed window, wait until every message
%%   still in flight has been handled, then ask each actor for its counters.
%%   Actors keep running after their part is done, so a duplicate that
%%   arrives late is counted, not silently dropped by a dead process.
%% * send/3: the one send of a workload chosen for `--param fault=drop|dup`.
-module(savina_check).
-export([check/2, check/3, fail/2, bad_parameters/2, await/1, quiesce/0, call/2, no_strays/0,
         send/3, now_ns/0, elapsed_s/1]).

%% How long await/1 sleeps between looks at the emulator. The completion
%% message ends the wait at once, so this only bounds how late a stall is
%% noticed; 100 ms keeps the look (a read of the run-queue counters) far
%% below 0.1% of a run.
-define(STALL_POLL_MS, 100).
%% Idle samples in a row that count as "nothing will ever happen": a sample
%% can fall between a send and the receiver becoming runnable only if that
%% send is being made by a running process, which the next sample sees.
-define(IDLE_SAMPLES, 3).
-define(IDLE_SAMPLE_GAP_MS, 5).
%% A quiescent system answers within milliseconds; this only stops a broken
%% workload from hanging the run.
-define(QUIESCE_LIMIT_MS, 60000).
-define(CALL_LIMIT_MS, 60000).

%% -- checks -------------------------------------------------------------------

%% Throws {check_failed, Text} (exit status 2) unless Condition holds.
check(Condition, Text) -> check(Condition, Text, []).
check(true, _Format, _Args) -> ok;
check(false, Format, Args) -> fail(Format, Args).

fail(Format, Args) -> throw({check_failed, lists:flatten(io_lib:format(Format, Args))}).

%% Throws {bad_parameters, Text} (exit status 1): the sizes cannot make a
%% run, which is no wrong answer (parameter_problem() in parameters.cpp
%% says the same for volley and CAF).
bad_parameters(Format, Args) -> throw({bad_parameters, lists:flatten(io_lib:format(Format, Args))}).

%% -- waiting ------------------------------------------------------------------

%% Waits for {Tag, Value} and returns Value; fails the run when the emulator
%% goes idle first (a message was lost, so the completion never comes).
await(Tag) ->
    receive
        {Tag, Value} -> Value
    after ?STALL_POLL_MS ->
        case idle(?IDLE_SAMPLES) of
            true ->
                receive
                    {Tag, Value} -> Value
                after 0 -> fail("no progress: every actor waits and '~p' never came (a lost message?)", [Tag])
                end;
            false -> await(Tag)
        end
    end.

%% Returns once no process but the caller has run for IDLE_SAMPLES samples.
quiesce() -> quiesce(erlang:monotonic_time(millisecond) + ?QUIESCE_LIMIT_MS).

quiesce(Deadline) ->
    case idle(?IDLE_SAMPLES) of
        true -> ok;
        false ->
            case erlang:monotonic_time(millisecond) > Deadline of
                true -> error(no_quiescence);
                false -> timer:sleep(?IDLE_SAMPLE_GAP_MS), quiesce(Deadline)
            end
    end.

idle(0) -> true;
idle(Samples) ->
    %% 1: the caller itself, which is running.
    case erlang:statistics(total_active_tasks_all) =< 1 andalso
         erlang:statistics(total_run_queue_lengths_all) =:= 0 of
        true -> timer:sleep(?IDLE_SAMPLE_GAP_MS), idle(Samples - 1);
        false -> false
    end.

%% Asks an actor for its counters: the actor answers {report, From, Ref}
%% with {Ref, Counters}.
call(Pid, Request) ->
    Ref = make_ref(),
    Pid ! {Request, self(), Ref},
    receive
        {Ref, Reply} -> Reply
    after ?CALL_LIMIT_MS -> error({no_answer, Pid, Request})
    end.

%% After quiesce/0: a message still in the caller's mailbox was never asked
%% for (an answer sent twice).
no_strays() ->
    receive
        Stray -> fail("an unexpected message reached the measuring process: ~P", [Stray, 8])
    after 0 -> ok
    end.

%% -- fault injection ------------------------------------------------------------

send(none, Pid, Message) -> Pid ! Message;
send(drop, _Pid, _Message) -> ok;
send(dup, Pid, Message) -> Pid ! Message, Pid ! Message.

%% -- time -----------------------------------------------------------------------

now_ns() -> erlang:monotonic_time(nanosecond).

elapsed_s(StartNs) -> (now_ns() - StartNs) / 1.0e9.
