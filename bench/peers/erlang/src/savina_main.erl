%% erlang-savina: the Savina workloads on Erlang/OTP, with the command line
%% and the JSON line of volley-savina and caf-savina
%% (bench/savina/common/include/volley/savina/workload_main.hpp):
%%
%%     erlang-savina --workload NAME [--sizes reference|savina] [--workers N]
%%                   [--param key=value]...
%%     erlang-savina --list
%%
%% Unlike the C++ binaries this one has no size table of its own: the sizes
%% live once, in bench/savina/common/src/parameters.cpp, and the runner
%% passes every parameter of a workload with --param. A missing one is a
%% usage error. `--param fault=drop|dup` (or `--inject-fault drop|dup`, the
%% C++ binaries' spelling) drops or duplicates one message of the workload,
%% which must then fail with exit status 2; `--deadline S` makes a run that
%% has no answer after S seconds a wrong result too.
%%
%% The wrapper script (erlang-savina.in) starts the emulator with one
%% scheduler per worker and the flags named in README.md; this module runs
%% the workload once and prints one line. Exit status: 0 ok, 1 usage or
%% runtime error, 2 wrong result.
-module(savina_main).
-export([start/0]).

%% {Name, Module}, in the suite's order: generated at build time from
%% VOLLEY_SAVINA_WORKLOADS in parameters.hpp (workload_list.cpp), the list
%% volley and CAF register from. Every module exports params/0, unit/0,
%% process_flags/0 and run/2 (Params map, Fault).
workloads() -> savina_workloads:all().

start() ->
    %% Not in init's own process: a workload that crashes must not take
    %% init down with it before the exit status is set.
    spawn(fun() -> halt_with(main(init:get_plain_arguments())) end),
    ok.

halt_with(Status) -> erlang:halt(Status, [{flush, true}]).

main(Args) ->
    try
        case parse(Args, #{sizes => "reference", params => [], list => false}) of
            #{help := true} -> out(usage()), 0;
            #{list := true} -> out(["[", lists:join(",", [json_string(N) || {N, _} <- workloads()]), "]\n"]), 0;
            Options -> run(Options)
        end
    catch
        throw:{usage, Text} -> err(["erlang-savina: ", Text, "\n", usage()]), 1
    end.

usage() ->
    "usage: erlang-savina --workload NAME [--sizes reference|savina] [--workers N] "
    "--param key=value... [--inject-fault none|drop|dup] [--deadline S]\n"
    "       erlang-savina --list\n".

out(Text) -> io:put_chars(standard_io, Text).
err(Text) -> io:put_chars(standard_error, Text).

%% -- command line ---------------------------------------------------------------

parse([], Options) -> Options;
parse(["--list" | Rest], Options) -> parse(Rest, Options#{list := true});
parse([H | Rest], Options) when H =:= "--help"; H =:= "-h" -> parse(Rest, Options#{help => true});
parse(["--" ++ Long | Rest], Options) ->
    case string:split(Long, "=") of
        [Name, Value] -> option(Name, Value, Rest, Options);
        [Name] ->
            case Rest of
                [Value | Rest1] -> option(Name, Value, Rest1, Options);
                [] -> throw({usage, ["--", Name, " needs a value"]})
            end
    end;
parse([Other | _], _Options) -> throw({usage, ["unexpected argument '", Other, "'"]}).

option("workload", Name, Rest, Options) -> parse(Rest, Options#{workload => Name});
option("sizes", Sizes, Rest, Options) when Sizes =:= "reference"; Sizes =:= "savina" ->
    parse(Rest, Options#{sizes := Sizes});
option("sizes", Sizes, _Rest, _Options) -> throw({usage, ["--sizes must be reference or savina, not '", Sizes, "'"]});
option("workers", Text, Rest, Options) ->
    case string:to_integer(Text) of
        {N, ""} when N > 0 -> parse(Rest, Options#{workers => N});
        _ -> throw({usage, ["--workers must be a positive integer, not '", Text, "'"]})
    end;
option("param", Text, Rest, Options = #{params := Params}) ->
    parse(Rest, Options#{params := Params ++ [Text]});
option("inject-fault", Text, Rest, Options = #{params := Params}) ->
    parse(Rest, Options#{params := Params ++ ["fault=" ++ Text]});
option("deadline", Text, Rest, Options) ->
    case number("--deadline", Text) of
        S when S > 0 -> parse(Rest, Options#{deadline_ms => round(S * 1000)});
        _ -> throw({usage, ["--deadline must be a positive number of seconds, not '", Text, "'"]})
    end;
option(Name, _Value, _Rest, _Options) -> throw({usage, ["unknown option --", Name]}).

%% Every parameter of the workload must be given; `fault` is the only extra.
workload_params(Module, Texts) ->
    Pairs = [split_param(T) || T <- Texts],
    Wanted = Module:params(),
    %% The last fault given wins, as the last of a repeated option does.
    Fault = case lists:keyfind("fault", 1, lists:reverse(Pairs)) of
                false -> none;
                {_, "none"} -> none;
                {_, "0"} -> none;
                {_, "drop"} -> drop;
                {_, "dup"} -> dup;
                {_, Other} -> throw({usage, ["fault must be none, drop or dup, not '", Other, "'"]})
            end,
    Values = maps:from_list([{K, number("--param " ++ K, V)} || {K, V} <- Pairs, K =/= "fault"]),
    case [K || K <- maps:keys(Values), not lists:member(K, Wanted)] of
        [] -> ok;
        Unknown -> throw({usage, ["unknown parameter(s) ", lists:join(", ", Unknown),
                                  "; this workload takes ", lists:join(", ", Wanted), " (and fault)"]})
    end,
    case [K || K <- Wanted, not maps:is_key(K, Values)] of
        [] -> {Values, Fault};
        Missing -> throw({usage, ["missing --param for ", lists:join(", ", Missing),
                                  "; this workload needs all of ", lists:join(", ", Wanted)]})
    end.

split_param(Text) ->
    case string:split(Text, "=") of
        [K, V] when K =/= "", V =/= "" -> {K, V};
        _ -> throw({usage, ["bad --param '", Text, "': expected key=value"]})
    end.

number(Key, Text) ->
    case string:to_integer(Text) of
        {I, ""} -> I;
        _ ->
            case string:to_float(Text) of
                {F, ""} -> F;
                _ ->
                    %% "1e6": Erlang's float syntax wants a fraction.
                    case string:to_float(re:replace(Text, "^([-+]?[0-9]+)([eE])", "\\1.0\\2", [{return, list}])) of
                        {F, ""} -> F;
                        _ -> throw({usage, [Key, ": '", Text, "' is not a number"]})
                    end
            end
    end.

%% -- one run -------------------------------------------------------------------

run(Options = #{params := Texts, sizes := Sizes}) ->
    Name = maps:get(workload, Options, undefined),
    Name =/= undefined orelse throw({usage, "--workload is required (or --list)"}),
    Module = case lists:keyfind(Name, 1, workloads()) of
                 {_, M} -> M;
                 false -> throw({usage, ["erlang has no workload '", Name, "' (see --list)"]})
             end,
    Workers = maps:get(workers, Options, erlang:system_info(schedulers_online)),
    {Params, Fault} = workload_params(Module, Texts),
    case bound_problem(Name, Params) of
        none -> run_workload(Name, Module, Workers, Sizes, whole_counts(Name, Params), Fault, Options);
        Text -> err(["erlang ", Name, ": bad parameters: ", Text, "\n"]), 1
    end.

run_workload(Name, Module, Workers, Sizes, Params, Fault, Options) ->
    %% Loaded now, not on first call inside the timed window.
    ok = code:ensure_modules_loaded([Module, savina_check, savina_random, savina_work]),
    Parent = self(),
    {Pid, Monitor} = spawn_monitor(fun() -> Parent ! {self(), attempt(Module, Params, Fault)} end),
    Deadline = maps:get(deadline_ms, Options, infinity),
    receive
        {Pid, {ok, Result}} ->
            out([result_line(Name, Module, Workers, Sizes, Params, Fault, Result), "\n"]), 0;
        {Pid, {wrong, Text}} ->
            err(["erlang ", Name, ": WRONG RESULT: ", Text, "\n"]), 2;
        {Pid, {bad_parameters, Text}} ->
            err(["erlang ", Name, ": bad parameters: ", Text, "\n"]), 1;
        {Pid, {error, Text}} ->
            err(["erlang ", Name, ": error: ", Text, "\n"]), 1;
        {'DOWN', Monitor, process, Pid, Reason} ->
            err(["erlang ", Name, ": error: ", io_lib:format("~P", [Reason, 30]), "\n"]), 1
    after Deadline ->
        err(["erlang ", Name, ": WRONG RESULT: no answer within the deadline of ",
             integer_to_list(Deadline), " ms\n"]), 2
    end.

%% The first value outside its parameter's bound, worded as
%% parameter_problem() in parameters.cpp words it, or none. The bounds are
%% that file's rows (savina_workloads:bounds/1, generated); the rules that
%% tie two parameters together are in the workloads' modules.
bound_problem(Name, Params) ->
    Problems = [bound_problem(Name, Key, maps:get(Key, Params), Least, Most, Whole)
                || {Key, Least, Most, Whole} <- savina_workloads:bounds(Name),
                   maps:is_key(Key, Params)],
    case [P || P <- Problems, P =/= none] of
        [] -> none;
        [First | _] -> First
    end.

bound_problem(Name, Key, V, Least, Most, Whole) ->
    What = [Name, "'s ", Key],
    if
        Whole andalso V /= trunc(V) ->
            lists:flatten([What, " counts, so it must be a whole number, not ", number_text(V)]);
        V < Least ->
            lists:flatten([What, " must be at least ", number_text(Least), ", not ", number_text(V)]);
        Most =/= infinity andalso V > Most ->
            lists:flatten([What, " must be at most ", number_text(Most), ", not ", number_text(V)]);
        true -> none
    end.

%% Counts as integers, as they are meant: "1.0e3" parses to a float, and
%% lists:seq/2 takes no float.
whole_counts(Name, Params) ->
    lists:foldl(fun({Key, _Least, _Most, true}, P) when is_map_key(Key, P) ->
                        maps:update_with(Key, fun trunc/1, P);
                   (_, P) -> P
                end, Params, savina_workloads:bounds(Name)).

%% As C's %.15g prints them: 3 for 3.0, 1.5 for 1.5.
number_text(V) when is_integer(V) -> integer_to_list(V);
number_text(V) when V == trunc(V) -> integer_to_list(trunc(V));
number_text(V) -> float_to_list(V, [short]).

attempt(Module, Params, Fault) ->
    try {ok, Module:run(Params, Fault)}
    catch
        throw:{check_failed, Text} -> {wrong, Text};
        throw:{bad_parameters, Text} -> {bad_parameters, Text};
        Class:Reason:Stack -> {error, io_lib:format("~p:~P ~P", [Class, Reason, 30, Stack, 30])}
    end.

%% -- the JSON line ----------------------------------------------------------------

result_line(Name, Module, Workers, Sizes, Params, Fault, Result = #{elapsed_s := Elapsed, messages := Messages,
                                                                   items := Items}) ->
    Throughput = case Elapsed > 0 of true -> Items / Elapsed; false -> 0.0 end,
    ParamPairs = [{K, json_number(V)} || {K, V} <- lists:sort(maps:to_list(Params))] ++
                 [{"fault", json_string(atom_to_list(Fault))} || Fault =/= none],
    Fields = [{"workload", json_string(Name)},
              {"runtime", json_string("erlang")},
              {"workers", json_number(Workers)},
              {"sizes", json_string(Sizes)},
              {"params", json_object(ParamPairs)},
              {"elapsed_s", json_float(Elapsed)},
              {"messages", json_number(Messages)},
              {"throughput", json_float(Throughput)},
              {"unit", json_string(Module:unit())}]
             ++ latency_fields(maps:get(latencies_ns, Result, []))
             ++ detail_fields(maps:get(details, Result, []))
             ++ [{"config", config(Module)}],
    json_object(Fields).

%% A workload's own counts ({Name, Integer} pairs), as measurement::details in C++.
detail_fields([]) -> [];
detail_fields(Pairs) -> [{"details", json_object([{K, json_number(V)} || {K, V} <- Pairs])}].

%% Nearest-rank percentiles, as summarise_latencies() in measurement.cpp.
latency_fields([]) -> [];
latency_fields(Samples) ->
    Sorted = list_to_tuple(lists:sort(Samples)),
    Count = tuple_size(Sorted),
    Rank = fun(Q) -> element(max(1, ceil(Q * Count)), Sorted) end,
    [{"p50_ns", json_number(Rank(0.50))},
     {"p99_ns", json_number(Rank(0.99))},
     {"p999_ns", json_number(Rank(0.999))},
     {"max_ns", json_number(element(Count, Sorted))},
     {"samples", json_number(Count)}].

%% What the result file records about this runtime: version, the emulator
%% flags the wrapper passed (busy-wait, binding, schedulers), what the
%% emulator actually did with them, how the workload's module was compiled,
%% GC defaults and the workload's process flags. There is no warm-up: each run is a fresh emulator, as each
%% volley/CAF run is a fresh process.
config(Module) ->
    Flags = string:lexemes(os:getenv("ERLANG_SAVINA_FLAGS", ""), " "),
    BusyWait = [{F, json_string(V)} || {"+" ++ F, V} <- pairs(Flags), lists:member(F, ["sbwt", "sbwtdcpu", "sbwtdio"])],
    json_object(
      [{"otp_release", json_string(erlang:system_info(otp_release))},
       {"erts_version", json_string(erlang:system_info(version))},
       {"emu_flavor", json_string(atom_to_list(erlang:system_info(emu_flavor)))},
       {"emulator_flags", json_string(lists:join(" ", Flags))},
       {"erlc", erlc_config(Module)},
       {"schedulers", json_number(erlang:system_info(schedulers))},
       {"schedulers_online", json_number(erlang:system_info(schedulers_online))},
       {"dirty_cpu_schedulers_online", json_number(erlang:system_info(dirty_cpu_schedulers_online))},
       {"scheduler_bind_type", json_string(atom_to_list(erlang:system_info(scheduler_bind_type)))},
       %% The CPU each scheduler is bound to, or "unbound" where binding failed.
       {"scheduler_bindings", ["[", lists:join(",", [case B of unbound -> json_string("unbound");
                                                              _ -> json_number(B) end
                                                     || B <- tuple_to_list(erlang:system_info(scheduler_bindings))]), "]"]},
       {"kernel_poll", atom_to_list(erlang:system_info(kernel_poll))},
       {"busy_wait", json_object(BusyWait)},
       {"fullsweep_after", json_number(element(2, erlang:system_info(fullsweep_after)))},
       {"min_heap_size_words", json_number(element(2, erlang:system_info(min_heap_size)))},
       {"warm_up", json_string("none: one run per emulator start, timed after the actors exist")},
       {"process_flags", json_object([{Role, json_string(Text)} || {Role, Text} <- Module:process_flags()])}]).

%% How Module's .beam was compiled, as the compiler recorded it in the module:
%% its version and the erlc options CMakeLists.txt passes (paths left out).
erlc_config(Module) ->
    Info = Module:module_info(compile),
    Options = [atom_to_list(O) || O <- proplists:get_value(options, Info, []), is_atom(O)],
    json_object([{"compiler_version", json_string(proplists:get_value(version, Info, ""))},
                 {"options", json_string(lists:join(" ", Options))}]).

pairs([K, V | Rest]) -> [{K, V} | pairs(Rest)];
pairs(_) -> [].

json_object(Pairs) ->
    ["{", lists:join(",", [[json_string(K), ":", V] || {K, V} <- Pairs]), "}"].

json_string(Text) ->
    Escaped = lists:flatmap(fun($") -> "\\\""; ($\\) -> "\\\\"; (C) when C < 32 -> io_lib:format("\\u~4.16.0b", [C]); (C) -> [C] end,
                            lists:flatten(Text)),
    [$", Escaped, $"].

%% Counts print as integers and rates as shortest round-trip doubles, as the
%% C++ binaries print them.
json_number(N) when is_integer(N) -> integer_to_list(N);
json_number(F) when is_float(F), F == trunc(F), abs(F) < 9.0e15 -> integer_to_list(trunc(F));
json_number(F) when is_float(F) -> json_float(F).

json_float(X) -> float_to_list(float(X), [short]).
