%% Filter bank: twin of bench/savina/filter_bank.cpp. A source streams
%% `columns` samples x_i = i mod 1000 to a branch process, which hands each
%% to the C channels; a channel is a pipeline of two FIR filter processes
%% (analysis H_c, then synthesis F_c, `taps` coefficients each); a combiner
%% adds the C outputs of each sample in channel order and passes the sum to
%% the sink. The coefficients and the FIR sum (t ascending, from 0.0) are
%% filter_bank.cpp's, so the doubles are the C++ ones bit for bit.
%%
%% Every message carries its sample's index and every stage expects the next
%% one (the combiner per channel); a stage that sees another index tells the
%% measuring process, which finds it after quiesce/0. The sink's sum must
%% equal a sequential run of the same filters.
-module(savina_filter_bank).
-export([params/0, unit/0, process_flags/0, run/2, reference_sum/3]).

params() -> ["columns", "channels", "taps"].
unit() -> "msg/s".
%% The source sends the whole stream at once, so every stage can hold a
%% backlog of most of it: off_heap keeps it out of the heap each collection
%% copies. The combiner also receives from every channel.
process_flags() -> [{"branch, filters, combiner", "message_queue_data=off_heap"}].

run(#{"columns" := Columns, "channels" := Channels, "taps" := Taps}, Fault) ->
    Main = self(),
    Sink = spawn_link(fun() -> sink(Main, Columns, 0, 0.0) end),
    Combiner = spawn_opt(fun() -> combiner(Main, Sink, erlang:make_tuple(Channels, queue:new()),
                                           erlang:make_tuple(Channels, 0), 0, 0) end,
                         [link, {message_queue_data, off_heap}]),
    Analysis = [begin
                    Synthesis = spawn_fir(Main, coefficients(C, Taps, synthesis), {combiner, Combiner, C}),
                    spawn_fir(Main, coefficients(C, Taps, analysis), {filter, Synthesis})
                end || C <- lists:seq(0, Channels - 1)],
    Branch = spawn_opt(fun() -> branch(Analysis, Fault) end, [link, {message_queue_data, off_heap}]),
    Source = spawn_link(fun() -> receive start -> source(Branch, 0, Columns) end end),
    Start = savina_check:now_ns(),
    Source ! start,
    {Samples, Sum} = savina_check:await(sink_done),
    Elapsed = savina_check:elapsed_s(Start),
    savina_check:quiesce(),
    savina_check:no_strays(),
    Expected = reference_sum(Columns, Channels, Taps),
    savina_check:check(Samples =:= Columns, "~b samples reached the sink", [Samples]),
    savina_check:check(abs(Sum - Expected) =< 1.0e-9 * abs(Expected) + 1.0e-9,
                       "the sink's sum is ~.17g, expected ~.17g", [Sum, Expected]),
    %% Per sample: source to branch, branch to C filters, C filter to
    %% filter, C filter to combiner, combiner to sink.
    Messages = Columns * (3 * Channels + 2),
    #{elapsed_s => Elapsed, messages => Messages, items => Messages}.

source(_Branch, Columns, Columns) -> ok;
source(Branch, I, Columns) ->
    Branch ! {sample, I, float(I rem 1000)},
    source(Branch, I + 1, Columns).

%% Fault: applies to the first sample sent to channel 0.
branch([First | Rest] = Channels, Fault) ->
    receive
        {sample, _, _} = Sample ->
            savina_check:send(Fault, First, Sample),
            [C ! Sample || C <- Rest],
            branch(Channels, none)
    end.

spawn_fir(Main, Coefficients, Next) ->
    Taps = length(Coefficients),
    spawn_opt(fun() -> fir(Main, Coefficients, lists:duplicate(Taps, 0.0), Taps, Next, 0) end,
              [link, {message_queue_data, off_heap}]).

%% History: the last Taps inputs, newest first (zeros before the first).
fir(Main, Coefficients, History, Taps, Next, Expected) ->
    receive
        {sample, Index, X} ->
            Index =:= Expected orelse (Main ! {wrong, "a FIR filter got sample", Index, Expected}),
            History1 = [X | lists:sublist(History, Taps - 1)],
            Y = dot(Coefficients, History1, 0.0),
            case Next of
                {filter, Pid} -> Pid ! {sample, Index, Y};
                {combiner, Pid, Channel} -> Pid ! {output, Channel, Index, Y}
            end,
            fir(Main, Coefficients, History1, Taps, Next, Expected + 1)
    end.

dot([], [], Sum) -> Sum;
dot([C | Cs], [X | Xs], Sum) -> dot(Cs, Xs, Sum + C * X).

%% Queues: one per channel (tuple, channel + 1); Expected: the next index
%% per channel; Filled: queues holding a value; Index: the next sample out.
combiner(Main, Sink, Queues, Expected, Filled, Index) ->
    receive
        {output, Channel, I, Y} ->
            E = element(Channel + 1, Expected),
            I =:= E orelse (Main ! {wrong, "the combiner got sample", I, E}),
            Q = element(Channel + 1, Queues),
            Filled1 = case queue:is_empty(Q) of true -> Filled + 1; false -> Filled end,
            {Queues1, Filled2, Index1} =
                emit(Sink, setelement(Channel + 1, Queues, queue:in(Y, Q)), Filled1, Index),
            combiner(Main, Sink, Queues1, setelement(Channel + 1, Expected, E + 1), Filled2, Index1)
    end.

%% While every channel has a value: add one from each, in channel order.
emit(Sink, Queues, Filled, Index) when Filled =:= tuple_size(Queues) ->
    {Sum, Queues1, Filled1} = take(Queues, 1, 0.0, Filled),
    Sink ! {sample, Index, Sum},
    emit(Sink, Queues1, Filled1, Index + 1);
emit(_Sink, Queues, Filled, Index) -> {Queues, Filled, Index}.

take(Queues, C, Sum, Filled) when C > tuple_size(Queues) -> {Sum, Queues, Filled};
take(Queues, C, Sum, Filled) ->
    {{value, Y}, Q} = queue:out(element(C, Queues)),
    Filled1 = case queue:is_empty(Q) of true -> Filled - 1; false -> Filled end,
    take(setelement(C, Queues, Q), C + 1, Sum + Y, Filled1).

sink(Main, Columns, Expected, Sum) ->
    receive
        {sample, Index, Y} ->
            Index =:= Expected orelse (Main ! {wrong, "the sink got sample", Index, Expected}),
            Sum1 = Sum + Y,
            case Expected + 1 of
                Columns -> Main ! {sink_done, {Columns, Sum1}};
                _ -> ok
            end,
            sink(Main, Columns, Expected + 1, Sum1)
    end.

%% As filter_bank_coefficients(): cos (analysis) or sin (synthesis) of
%% (c + 1)(t + 1) / 10, divided by the number of taps.
coefficients(Channel, Taps, Kind) ->
    F = case Kind of analysis -> fun math:cos/1; synthesis -> fun math:sin/1 end,
    [F((Channel + 1) * (T + 1) / 10.0) / Taps || T <- lists:seq(0, Taps - 1)].

%% As filter_bank_reference_sum(): the whole stream, sequentially.
reference_sum(Columns, Channels, Taps) ->
    Filters = [{coefficients(C, Taps, analysis), coefficients(C, Taps, synthesis)} || C <- lists:seq(0, Channels - 1)],
    Zeros = lists:duplicate(Taps, 0.0),
    reference(0, Columns, Taps, [{H, Zeros, F, Zeros} || {H, F} <- Filters], 0.0).

reference(Columns, Columns, _Taps, _State, Sink) -> Sink;
reference(I, Columns, Taps, State, Sink) ->
    X = float(I rem 1000),
    {Combined, State1} =
        lists:foldl(fun({H, HHist, F, FHist}, {Acc, Out}) ->
                            HHist1 = [X | lists:sublist(HHist, Taps - 1)],
                            Y1 = dot(H, HHist1, 0.0),
                            FHist1 = [Y1 | lists:sublist(FHist, Taps - 1)],
                            Y2 = dot(F, FHist1, 0.0),
                            {Acc + Y2, [{H, HHist1, F, FHist1} | Out]}
                    end, {0.0, []}, State),
    reference(I + 1, Columns, Taps, lists:reverse(State1), Sink + Combined).
