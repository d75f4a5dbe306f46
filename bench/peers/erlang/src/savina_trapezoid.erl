%% Trapezoid: twin of bench/savina/trapezoid.cpp. W worker processes each
%% integrate one slice of [left, right] with the trapezoid rule and answer
%% with their area; the measuring process sums the slices. Each slice must
%% be answered exactly once, and the sum must match a much finer Simpson's
%% rule (reference_answers.cpp's trapezoid_integral) to 1e-6 relative.
-module(savina_trapezoid).
-export([params/0, unit/0, process_flags/0, run/2, simpson/2]).

params() -> ["pieces", "workers", "left", "right"].
unit() -> "pieces/s".
%% Every float a worker computes is a heap object: a larger young heap (64k
%% words, 512 KiB) makes minor collections ~280 times rarer than the
%% default 233 words.
process_flags() -> [{"worker", "min_heap_size=65536"}].

-define(WORKER_MIN_HEAP_WORDS, 65536).

run(#{"pieces" := Pieces, "workers" := W, "left" := Left, "right" := Right}, Fault) ->
    Workers = [spawn_opt(fun worker/0, [link, {min_heap_size, ?WORKER_MIN_HEAP_WORDS}]) || _ <- lists:seq(1, W)],
    Width = (Right - Left) / Pieces,
    Start = savina_check:now_ns(),
    lists:foreach(
      fun({I, Pid}) ->
              First = Pieces * I div W,
              Last = Pieces * (I + 1) div W,
              Work = {work, I, Left + First * Width, Width, Last - First, self()},
              %% The first slice is the message a fault is injected into.
              case I of
                  0 -> savina_check:send(Fault, Pid, Work);
                  _ -> Pid ! Work
              end
      end, lists:zip(lists:seq(0, W - 1), Workers)),
    Slices = [savina_check:await(area) || _ <- Workers],
    Area = lists:sum([A || {_, A} <- Slices]),
    Elapsed = savina_check:elapsed_s(Start),
    savina_check:quiesce(),
    savina_check:no_strays(),
    savina_check:check(lists:sort([I || {I, _} <- Slices]) =:= lists:seq(0, W - 1),
                       "slices were not each answered once", []),
    Expected = simpson(Left, Right),
    savina_check:check(abs(Area - Expected) =< 1.0e-6 * abs(Expected), "area ~.17g, expected ~.17g", [Area, Expected]),
    #{elapsed_s => Elapsed, messages => 2 * W, items => Pieces}.

%% One slice each, as in Savina; a second one already queued is answered
%% too, so the measuring process sees it.
worker() ->
    receive
        {work, I, Left, Width, Pieces, From} ->
            From ! {area, {I, slice(Left, Width, 0, Pieces, 0.0)}},
            receive
                {work, _, _, _, _, _} = Again -> self() ! Again, worker()
            after 0 -> ok
            end
    end.

slice(_Left, _Width, I, Pieces, Area) when I =:= Pieces -> Area;
slice(Left, Width, I, Pieces, Area) ->
    Lx = Left + I * Width,
    slice(Left, Width, I + 1, Pieces, Area + 0.5 * (fx(Lx) + fx(Lx + Width)) * Width).

%% Savina's TrapezoidalConfig.fx, as reference_answers.cpp writes it.
fx(X) ->
    A = math:sin(X * X * X - 1),
    B = X + 1,
    C = A / B,
    D = math:sqrt(1 + math:exp(math:sqrt(2 * X))),
    C * D.

%% Simpson's rule on 200,000 panels, as trapezoid_integral().
simpson(Left, Right) ->
    Panels = 200000,
    H = (Right - Left) / Panels,
    Sum = lists:foldl(fun(I, Acc) ->
                              Weight = case I rem 2 of 1 -> 4; 0 -> 2 end,
                              Acc + Weight * fx(Left + I * H)
                      end, fx(Left) + fx(Right), lists:seq(1, Panels - 1)),
    Sum * H / 3.
