"""``vtwin reward-design``: paper C's LLM reward-design loop from the command line.

Talks to any OpenAI-compatible server (``--base-url``, ``--model``, the key from the
variable named by ``--api-key-env``), or with ``--quick`` / ``--offline-script FILE`` to the
offline scripted server on 127.0.0.1, so the whole loop runs with no model. User errors print
one ``error:`` line and exit with status 2.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

__all__ = ["QUICK", "register_cli", "reward_design_command"]

console = Console()
err_console = Console(stderr=True)

QUICK: dict[str, Any] = {
    "preset": "paper-c-synth",
    "overrides": ("privacy.observation=servers",),
    "slots": 30,
    "rounds": 2,
    "samples": 4,
    "train_steps": 480,
    "batch": 4,
    "eval_batch": 4,
    "eval_episodes": 1,
    "seeds": 1,
    "model": "vtwin-offline",
}
"""``--quick``: the offline script's 2 rounds × 4 replies, HDPPO for 480 transitions each on
the synthetic preset with 30-slot episodes (a demo of the loop, not a design)."""


def _fail(message: str) -> None:
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=2)


def reward_design_command(
    out: Annotated[
        Path | None,
        typer.Option(
            help="Run folder (resumed when it exists). Default runs/reward-design[-quick]."
        ),
    ] = None,
    quick: Annotated[
        bool,
        typer.Option(
            "--quick",
            help="Demo: the offline scripted server, 2 rounds x 4 candidates, tiny training.",
        ),
    ] = False,
    base_url: Annotated[
        str, typer.Option(help="OpenAI-compatible API root, e.g. http://127.0.0.1:8080/v1.")
    ] = "https://api.openai.com/v1",
    model: Annotated[str, typer.Option(help="Model name sent to the server.")] = "gpt-4o",
    api_key_env: Annotated[
        str, typer.Option(help="Environment variable holding the API key.")
    ] = "OPENAI_API_KEY",
    offline_script: Annotated[
        Path | None,
        typer.Option(help="Serve this YAML/JSON script with the offline server instead."),
    ] = None,
    preset: Annotated[str, typer.Option(help="Preset the candidates train on.")] = "paper-c",
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set", "-s", help="Config override KEY=VALUE (repeatable).", metavar="KEY=VALUE"
        ),
    ] = None,
    rounds: Annotated[int, typer.Option(help="Rounds of generate → evaluate → refine.", min=1)] = 3,
    samples: Annotated[int, typer.Option(help="Candidates asked for per round.", min=1)] = 4,
    steps: Annotated[int, typer.Option(help="Training transitions per candidate.", min=1)] = 6000,
    slots: Annotated[int, typer.Option(help="Slots per training episode.", min=1)] = 60,
    batch: Annotated[int, typer.Option(help="Env copies while training.", min=1)] = 8,
    seeds: Annotated[int, typer.Option(help="Training seeds per candidate.", min=1)] = 1,
    method: Annotated[str, typer.Option(help="Learner: hdppo, hppo or ghppo.")] = "hdppo",
    select: Annotated[
        str,
        typer.Option(help="KPI that picks the best: utility, entropy_bits, latency_s, qos_loss."),
    ] = "utility",
    preference: Annotated[
        str | None, typer.Option(help="A human preference fed back to the model.")
    ] = None,
    preference_file: Annotated[
        Path | None, typer.Option(help="A file holding the human preference.")
    ] = None,
    max_weight_ratio: Annotated[
        float, typer.Option(help="Refuse a reward whose largest component is this × its smallest.")
    ] = 100.0,
    temperature: Annotated[float, typer.Option(help="Sampling temperature.")] = 1.0,
    timeout: Annotated[float, typer.Option(help="Seconds per model request.")] = 120.0,
    confirm_seeds: Annotated[
        int,
        typer.Option(
            help="After the rounds: train the best, eq. (20) and eq. (21) with this many fresh "
            "seeds each and compare them (0: skip).",
            min=0,
        ),
    ] = 0,
    confirm_steps: Annotated[
        int, typer.Option(help="Training transitions per confirmation run (0: --steps).", min=0)
    ] = 0,
    workers: Annotated[
        int | None,
        typer.Option(
            help="Training runs in parallel (local: processes, default 1; ray: runs in flight, "
            "default as many as the cluster has CPUs).",
            min=1,
        ),
    ] = None,
    backend: Annotated[
        str, typer.Option(help="Executor backend: local (this machine) or ray (a Ray cluster).")
    ] = "local",
    address: Annotated[
        str | None,
        typer.Option(
            help="Ray cluster to join with --backend ray (auto, HOST:6379); with several "
            "nodes, --out must be a folder every node sees at the same path."
        ),
    ] = None,
    save_as: Annotated[
        str | None,
        typer.Option(help="Save the best reward under this name (reward.kind=sandbox:NAME)."),
    ] = None,
) -> None:
    """Let a language model design paper C's reward: generate candidates, filter them in a
    sandbox, train and score each, feed the results back; keep the best."""
    from vtwin.experiments.executor import make_executor
    from vtwin.reward_design.loop import DesignSettings, RewardDesign
    from vtwin.rewards.sandbox import reward_library, sandbox_layers

    if preference_file is not None:
        try:
            preference = preference_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            _fail(f"--preference-file '{preference_file}': cannot read it ({type(exc).__name__})")
    settings_args: dict[str, Any] = {
        "preset": preset,
        "overrides": ("privacy.observation=servers", *(set_ or [])),
        "rounds": rounds,
        "samples": samples,
        "model": model,
        "base_url": base_url,
        "api_key_env": api_key_env,
        "temperature": temperature,
        "timeout_s": timeout,
        "method": method,
        "train_steps": steps,
        "slots": slots,
        "batch": batch,
        "seeds": seeds,
        "select": select,
        "max_weight_ratio": max_weight_ratio,
        "preference": preference or "",
        "confirm_seeds": confirm_seeds,
        "confirm_steps": confirm_steps,
    }
    script = offline_script
    if quick:
        settings_args |= QUICK | {"confirm_seeds": confirm_seeds or 2}
        settings_args["overrides"] = (*QUICK["overrides"], *(set_ or []))
        script = script or Path(str(resources.files("vtwin.reward_design") / "offline_quick.yaml"))
    if save_as is not None and (not save_as.replace("-", "_").isidentifier()):
        _fail(f"--save-as '{save_as}': use letters, digits, '-' and '_'")
    out = out or Path("runs/reward-design-quick" if quick else "runs/reward-design")
    try:
        settings = DesignSettings(**settings_args)
        settings_check(settings)
        executor = make_executor(backend, workers, address)  # a bad backend fails here, early
    except ValueError as exc:
        _fail(str(exc))
        return

    console.print("sandbox layers:", highlight=False)
    for layer, state in sandbox_layers(settings.sandbox).items():
        console.print(f"  {escape(layer)}: {escape(state)}", highlight=False)
    server = None
    try:
        if script is not None:
            from vtwin.reward_design.server import OfflineChatServer, load_script

            try:
                server = OfflineChatServer(load_script(script)).start()
            except ValueError as exc:
                _fail(str(exc))
            settings_args["base_url"] = server.base_url  # type: ignore[union-attr]
            console.print(f"offline chat server: {server.base_url}", highlight=False)  # type: ignore[union-attr]
        design = RewardDesign(
            out,
            settings,
            client_factory=_client_factory(server.base_url if server else None),
            executor=executor,
            log=lambda line: err_console.print(escape(line), highlight=False, soft_wrap=True),
        )
        console.print(f"run folder: [bold]{escape(str(out))}[/]", highlight=False)
        best = design.run()
        usage = design.write_usage()
    except KeyboardInterrupt:
        err_console.print("interrupted: finished steps are saved; run the same command to resume.")
        raise typer.Exit(code=130) from None
    except (ValueError, OSError, RuntimeError) as exc:
        _fail(f"{exc} (finished steps are saved; rerun the same command to resume)")
        return
    finally:
        if server is not None:
            server.close()
    table = Table("KPI", "best candidate", title=f"best reward: {best['id']} ({best['name']})")
    for key, value in best["kpis"].items():
        table.add_row(escape(key), f"{value:.4g}")
    console.print(table)
    console.print(
        f"replies: {usage['replies']} ({usage['from_cache']} from cache), tokens "
        f"{usage['prompt_tokens']} + {usage['completion_tokens']}, cost ${usage['cost_usd']:.4f}",
        highlight=False,
    )
    confirmed = out / "confirm.json"
    if settings.confirm_seeds and confirmed.exists():
        import json

        result = json.loads(confirmed.read_text())
        metrics = [k for k in result["rewards"]["designed"] if k not in ("runs", "failed")]
        ctable = Table(
            "reward",
            "runs",
            *metrics,
            title=f"confirmation: {len(result['seeds'])} fresh seeds, {result['steps']} steps",
        )
        labels = {"designed": "designed (LHDPPO)", "eq20": "eq. (20) (HDPPO)", "eq21": "eq. (21)"}
        for label, row in result["rewards"].items():
            cells = [f"{row[m]['mean']:.4g} ± {row[m]['sd']:.2g}" for m in metrics]
            ctable.add_row(labels.get(label, label), str(row["runs"]), *cells)
        console.print(ctable)
    best_file = out / "best_reward.py"
    console.print(f"best reward: [bold]{escape(str(best_file))}[/]", highlight=False)
    if save_as is not None:
        from vtwin.reward_design.loop import copy_best

        target = copy_best(out, reward_library() / f"{save_as}.py")
        console.print(f"saved as '{escape(save_as)}': {escape(str(target))}", highlight=False)
    console.print(
        f"use it: --set reward.kind=sandbox:{escape(save_as or str(out))}", highlight=False
    )


def settings_check(settings: Any) -> None:
    """Fail early on a preset or override the loop could not train on."""
    from vtwin.config import ConfigError, load_config

    try:
        config = load_config(settings.preset, list(settings.overrides))
    except (ConfigError, ValueError, OSError) as exc:
        raise ValueError(str(exc)) from None
    if config.paper != "C":
        raise ValueError(
            f"--preset '{settings.preset}' is paper {config.paper}'s; the loop needs a paper C "
            "preset"
        )


def _client_factory(base_url: str | None) -> Any:
    """The default client, pointed at the offline server when one runs."""
    from dataclasses import replace

    from vtwin.reward_design.loop import default_client

    def make(settings: Any, cache_dir: Path) -> Any:
        if base_url is not None:
            settings = replace(settings, base_url=base_url)
        return default_client(settings, cache_dir)

    return make


def register_cli(app: typer.Typer) -> None:
    """Add ``reward-design`` to ``app``."""
    app.command("reward-design")(reward_design_command)
