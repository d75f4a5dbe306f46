%% Bank transaction: twin of bench/savina/bank_transaction.cpp. A teller
%% issues T random transfers between A account processes at once (source,
%% destination and amount from splitmix64, seed 42, drawn as the C++
%% versions draw them). The source debits itself and asks the destination
%% to credit; on the answer it confirms to the teller. Money is conserved,
%% and more: every account's final balance and the sum of confirmed amounts
%% are recomputed from the draws after the timed window, so a transfer
%% lost, repeated or sent to the wrong account fails the run.
-module(savina_bank_transaction).
-export([params/0, unit/0, process_flags/0, run/2]).

params() -> ["accounts", "transactions"].
unit() -> "msg/s".
%% A thousand accounts confirm to one teller: off_heap lets them enqueue in
%% parallel.
process_flags() -> [{"teller", "message_queue_data=off_heap"}].

-define(INITIAL_BALANCE, 1000000).
-define(SEED, 42).

run(#{"accounts" := A, "transactions" := T}, Fault) ->
    Main = self(),
    Accounts = list_to_tuple([spawn_link(fun() -> account(?INITIAL_BALANCE) end) || _ <- lists:seq(1, A)]),
    Teller = spawn_opt(fun() -> teller_wait(Main, Accounts, T) end, [link, {message_queue_data, off_heap}]),
    Start = savina_check:now_ns(),
    Teller ! {start, Fault},
    {Confirmed, ConfirmedSum} = savina_check:await(teller_done),
    Elapsed = savina_check:elapsed_s(Start),
    savina_check:quiesce(),
    savina_check:no_strays(),
    {Expected, ExpectedSum} = replay(A, T),
    savina_check:check(savina_check:call(Teller, report) =:= {Confirmed, ConfirmedSum},
                       "the teller got confirmations after the last one", []),
    savina_check:check(Confirmed =:= T, "teller confirmed ~b transfers, expected ~b", [Confirmed, T]),
    savina_check:check(ConfirmedSum =:= ExpectedSum, "confirmed amounts sum to ~b, expected ~b", [ConfirmedSum, ExpectedSum]),
    Balances = [savina_check:call(element(I, Accounts), balance) || I <- lists:seq(1, A)],
    savina_check:check(lists:sum(Balances) =:= A * ?INITIAL_BALANCE, "balances sum to ~b, expected ~b",
                       [lists:sum(Balances), A * ?INITIAL_BALANCE]),
    Wrong = [I || {I, B} <- lists:zip(lists:seq(0, A - 1), Balances), B =/= ?INITIAL_BALANCE + maps:get(I, Expected, 0)],
    savina_check:check(Wrong =:= [], "~b accounts end with the wrong balance (first: ~w)", [length(Wrong), lists:sublist(Wrong, 5)]),
    #{elapsed_s => Elapsed, messages => 4 * T, items => 4 * T}.

%% One transfer: {Source, Destination, Amount, NewRandomState}.
draw(R, A) ->
    {Src, R1} = savina_random:below(R, A),
    {Dst0, R2} = savina_random:below(R1, A - 1),
    Dst = case Dst0 >= Src of true -> Dst0 + 1; false -> Dst0 end,
    {Amount0, R3} = savina_random:below(R2, 1000),
    {Src, Dst, Amount0 + 1, R3}.

%% {balance change per account index, sum of amounts}.
replay(A, T) -> replay(savina_random:new(?SEED), A, T, #{}, 0).

replay(_R, _A, 0, Changes, Sum) -> {Changes, Sum};
replay(R, A, Left, Changes, Sum) ->
    {Src, Dst, Amount, R1} = draw(R, A),
    Changes1 = maps:update_with(Dst, fun(V) -> V + Amount end, Amount,
                                maps:update_with(Src, fun(V) -> V - Amount end, -Amount, Changes)),
    replay(R1, A, Left - 1, Changes1, Sum + Amount).

teller_wait(Main, Accounts, T) ->
    receive
        {start, Fault} ->
            A = tuple_size(Accounts),
            {Src, Dst, Amount, R} = draw(savina_random:new(?SEED), A),
            %% The first transfer is the message a fault is injected into.
            savina_check:send(Fault, element(Src + 1, Accounts), {transfer, Amount, element(Dst + 1, Accounts), self()}),
            send_transfers(R, Accounts, A, T - 1),
            teller(Main, T, 0, 0)
    end.

send_transfers(_R, _Accounts, _A, 0) -> ok;
send_transfers(R, Accounts, A, Left) ->
    {Src, Dst, Amount, R1} = draw(R, A),
    element(Src + 1, Accounts) ! {transfer, Amount, element(Dst + 1, Accounts), self()},
    send_transfers(R1, Accounts, A, Left - 1).

teller(Main, T, Confirmed, Sum) ->
    receive
        {confirmed, Amount} ->
            case Confirmed + 1 =:= T of
                true -> Main ! {teller_done, {T, Sum + Amount}};
                false -> ok
            end,
            teller(Main, T, Confirmed + 1, Sum + Amount);
        {report, From, Ref} ->
            From ! {Ref, {Confirmed, Sum}},
            teller(Main, T, Confirmed, Sum)
    end.

%% The ask: the credit names the source and the teller, and the source
%% confirms once the destination has answered.
account(Money) ->
    receive
        {transfer, Amount, Destination, Teller} ->
            Destination ! {credit, Amount, self(), Teller},
            account(Money - Amount);
        {credit, Amount, Source, Teller} ->
            Source ! {credited, Amount, Teller},
            account(Money + Amount);
        {credited, Amount, Teller} ->
            Teller ! {confirmed, Amount},
            account(Money);
        {balance, From, Ref} ->
            From ! {Ref, Money},
            account(Money)
    end.
