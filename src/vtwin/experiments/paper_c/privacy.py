"""Paper C experiments without learners: the privacy metric (Figs. 6–7), the reference policies
(the Geo-I bars of Fig. 5) and the trajectory map (Fig. 8).

``paper-c-policies`` runs Geo-I, the max-radius rule (r_max, uniform angle, Geo-I's greedy
server: the bar a learner must clear), a uniformly random hybrid policy and the unprotected
"nearest" policy (true position, agent on the connected server) in the batched env and
reports the Fig. 5 quantities: utility (eq. (17)), cross-reality entropy (eq. (5)), response
latency (eq. (15)) and QoS loss (eq. (16)), plus the adversary's confidence and error.
Its Fig. 8 draws the true and reported trajectory of one AV with its connected and agent
servers on the map.

``paper-c-privacy-metrics`` drives the env with Geo-I and, every few slots, asks the
adversary what it would conclude from other hybrid actions at the same states (its
history untouched):

* Fig. 6 — the entropy over the perturbation radius r ∈ [0, r_max] and the included angle
  α ∈ [0, π] between the perturbation direction and the AV→agent-server direction (the
  agent server kept at the policy's choice);
* Fig. 7 — three privacy metrics against the attacker's confidence as the "hybrid action
  intensity" k ∈ [0, 1] grows: radius k·r_max (random direction) and the agent on the RSU
  of rank round(k·9) among the AV's ten nearest (k = 0: the nearest). The metrics are
  Geo-I's entropy (perturbation only), migration-only location entropy (agent server only)
  and the cross-reality entropy (both); confidence is the cross-reality posterior's maximum.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from vtwin.experiments.common import method_means
from vtwin.experiments.registry import register
from vtwin.experiments.spec import Claim, Experiment, Figure, RunResult, RunSpec

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from vtwin.envs.privacy import BatchedCrossRealityPrivacy

POLICIES = ("geo_i", "max_radius", "random", "nearest")
KPIS = ("utility", "entropy_bits", "latency_s", "qos_loss", "confidence", "attacker_error_m")
RADII = tuple(np.round(np.linspace(0.0, 1.0, 6), 3))
"""Fig. 6 radii as fractions of r_max."""
ANGLES_DEG = (0, 30, 60, 90, 120, 150, 180)
"""Fig. 6 included angles, degrees."""
INTENSITIES = tuple(np.round(np.linspace(0.0, 1.0, 11), 3))
"""Fig. 7 hybrid-action intensities."""
_NEAREST_RANKS = 10
_MAP_POINTS = 120


def _env(spec: RunSpec) -> BatchedCrossRealityPrivacy:
    from vtwin.config import load_config
    from vtwin.envs.privacy import BatchedCrossRealityPrivacy

    slots = int(spec.budget["slots"])
    cfg = load_config(spec.preset, [*spec.overrides, f"horizon_slots={slots}"])
    return BatchedCrossRealityPrivacy(cfg, int(spec.budget["batch"]))


# --------------------------------------------------------------------------------------------
# paper-c-policies: Fig. 5 (reference policies) and Fig. 8 (map)
# --------------------------------------------------------------------------------------------


def run_policy(spec: RunSpec) -> RunResult:
    """One reference policy, one seed: ``budget['batch']`` copies × ``budget['slots']`` slots."""
    from vtwin.envs.privacy_policies import make_privacy_policy

    env = _env(spec)
    policy = make_privacy_policy(spec.method, seed=spec.seed)
    env.reset(seed=spec.seed * 10_000)  # copy b uses seed·10⁴ + b
    policy.reset(env)
    rows: list[dict[str, float]] = []
    sums = dict.fromkeys(KPIS, 0.0)
    infos: list[dict[str, Any]] = []
    for t in range(env.horizon):
        _, _, _, _, info = env.step(policy.act(env))
        policy.observe(info)
        row = {"step": float(t)}
        for k in KPIS:
            value = float(np.mean(info[k]))
            row[k] = value
            sums[k] += value
        rows.append(row)
        infos.append(info)
    summary = {k: v / env.horizon for k, v in sums.items()}
    artifacts = map_artifacts(env, infos)
    return RunResult(metrics=pd.DataFrame(rows), summary=summary, artifacts=artifacts)


def map_artifacts(env: BatchedCrossRealityPrivacy, infos: list[dict[str, Any]]) -> dict[str, Any]:
    """Fig. 8's data from the step infos of one episode: copy 0's AV that drove farthest (a
    parked taxi shows nothing), its true and reported lat/lon, connected and agent servers
    (every few slots, at most ``_MAP_POINTS``) and the positions of the servers it used.
    Empty for scenarios without lat/lon."""
    if not infos or "true_latlon" not in infos[0]:
        return {}
    true = np.stack([i["true_latlon"][0] for i in infos])  # [T, M, 2]
    av = int(np.argmax(np.abs(np.diff(true, axis=0)).sum(axis=(0, 2))))
    stride = max(1, len(infos) // _MAP_POINTS)
    picked = infos[::stride]
    connected = [int(i["connected"][0, av]) for i in picked]
    agent = [int(i["agent_server"][0, av]) for i in picked]
    used = sorted(set(connected) | set(agent))
    latlon = env.scenario.to_latlon(env.server_xy)
    return {
        "true": true[::stride, av].round(6).tolist(),
        "reported": np.stack([i["perturbed_latlon"][0, av] for i in picked]).round(6).tolist(),
        "connected": connected,
        "agent": agent,
        "servers": {str(s): latlon[s].round(6).tolist() for s in used},
        "satellite": env.SAT,
        "av": av,
    }


def draw_map(runs: list[tuple[RunSpec, RunResult]], ax: Axes) -> pd.DataFrame:
    """Fig. 8: one AV's true and reported trajectory under Geo-I, its connected and agent
    servers."""
    return draw_track(runs, ax, "geo_i", "Geo-I")


def draw_track(
    runs: list[tuple[RunSpec, RunResult]], ax: Axes, method: str, label: str
) -> pd.DataFrame:
    """Fig. 8 for ``method``'s lowest-seed run with a trajectory (:func:`map_artifacts`)."""
    found = sorted(
        ((s, r) for s, r in runs if s.method == method and r.artifacts.get("true")),
        key=lambda sr: sr[0].seed,
    )
    if not found:
        ax.set_axis_off()
        ax.text(0.5, 0.5, f"no {label} run with a lat/lon trajectory", ha="center", va="center")
        return pd.DataFrame(columns=["slot", "true_lat", "true_lon", "agent"])
    spec, result = found[0]
    art = result.artifacts
    true, rep = np.asarray(art["true"]), np.asarray(art["reported"])
    ax.plot(true[:, 1], true[:, 0], color="tab:red", lw=1.8, label="actual trajectory")
    ax.plot(rep[:, 1], rep[:, 0], color="tab:green", lw=1.0, label="reported (perturbed)")
    servers = {int(k): v for k, v in art["servers"].items()}
    sat = int(art["satellite"])
    agent_set = sorted(set(art["agent"]) - {sat})
    conn_set = sorted(set(art["connected"]) - {sat} - set(agent_set))
    for ids, marker, colour, label in (
        (conn_set, "s", "0.55", "connected server"),
        (agent_set, "^", "tab:blue", "agent server"),
    ):
        if ids:
            pts = np.asarray([servers[i] for i in ids])
            ax.scatter(
                pts[:, 1],
                pts[:, 0],
                s=45,
                marker=marker,
                color=colour,
                label=label,
                edgecolors="k",
                zorder=3,
            )
    on_sat = np.mean(np.asarray(art["agent"]) == sat)
    ax.set_xlabel("longitude (°)")
    ax.set_ylabel("latitude (°)")
    ax.legend(fontsize=7, loc="best")
    ax.text(
        0.01,
        0.01,
        f"{label}, seed {spec.seed}, copy 0, AV {art.get('av', 0)}; agent on the satellite in "
        f"{100 * on_sat:.0f} % of the slots shown",
        transform=ax.transAxes,
        fontsize=7,
    )
    return pd.DataFrame(
        {
            "slot": np.arange(len(true)),
            "true_lat": true[:, 0],
            "true_lon": true[:, 1],
            "reported_lat": rep[:, 0],
            "reported_lon": rep[:, 1],
            "connected": art["connected"],
            "agent": art["agent"],
        }
    )


def claim_geo_i_entropy(table: pd.DataFrame) -> tuple[str, bool | None]:
    """Paper C Fig. 5(b): Geo-I's cross-reality entropy (paper: 0.499 bits)."""
    means = method_means(table, "entropy_bits")
    text = ", ".join(f"{m} {v:.3f}" for m, v in sorted(means.items()))
    return f"entropy (bits): {text}", None


def claim_geo_i_utility(table: pd.DataFrame) -> tuple[str, bool | None]:
    """Paper C Fig. 5(a): Geo-I's utility (paper: −3.118) and that it beats no protection."""
    means = method_means(table, "utility")
    text = ", ".join(f"{m} {v:.3f}" for m, v in sorted(means.items()))
    if "geo_i" not in means or "nearest" not in means:
        return f"utility: {text}", None
    return f"utility: {text}", means["geo_i"] > means["nearest"]


# --------------------------------------------------------------------------------------------
# paper-c-privacy-metrics: Figs. 6 and 7
# --------------------------------------------------------------------------------------------


def _direction(env: BatchedCrossRealityPrivacy, server: np.ndarray) -> np.ndarray:
    """Angle θ (rad, east = 0) of the AV→server direction in eq. (2)'s degree space [B, M]."""
    d = (env.server_xy[server] - env._xy) / env.m_per_deg
    return np.asarray(np.arctan2(d[..., 1], d[..., 0]))


def run_metrics(spec: RunSpec) -> RunResult:
    """Probe the adversary along a Geo-I episode (see the module docstring)."""
    from vtwin.envs.privacy_policies import GeoIPolicy

    env = _env(spec)
    every = int(spec.budget.get("probe_every", 5))
    rng = np.random.default_rng(spec.seed + 77)
    policy = GeoIPolicy(seed=spec.seed)
    env.reset(seed=spec.seed * 10_000)
    policy.reset(env)
    surface = np.zeros((len(RADII), len(ANGLES_DEG)))
    curves = {k: np.zeros(len(INTENSITIES)) for k in ("cross", "geo_i", "migration", "conf")}
    probes = 0
    for t in range(env.horizon):
        act = policy.act(env)
        if t % every == every - 1:  # after a few slots of history
            probes += 1
            true = env._xy
            server = np.asarray(act["server"])
            base = _direction(env, server)
            sign = rng.choice([-1.0, 1.0], size=base.shape)
            for i, frac in enumerate(RADII):
                radius = np.full(base.shape, frac * env.r_max_deg)
                for j, deg in enumerate(ANGLES_DEG):
                    theta = np.mod(base + sign * np.radians(deg), 2 * np.pi)
                    pert = env.perturb(true, radius, theta)
                    view = env.adversary_view(true, pert, server, radius)
                    surface[i, j] += float(view.entropy_bits.mean())
            rank = np.argsort(env._rsu_distance_m(true), axis=-1)[..., :_NEAREST_RANKS]
            theta = rng.uniform(0.0, 2 * np.pi, base.shape)
            for i, k in enumerate(INTENSITIES):
                radius = np.full(base.shape, k * env.r_max_deg)
                pick = min(round(float(k) * (_NEAREST_RANKS - 1)), rank.shape[-1] - 1)
                view = env.adversary_view(
                    true, env.perturb(true, radius, theta), rank[..., pick], radius
                )
                curves["cross"][i] += float(view.entropy_bits.mean())
                curves["geo_i"][i] += float(view.geo_i_entropy_bits.mean())
                curves["migration"][i] += float(view.migration_entropy_bits.mean())
                curves["conf"][i] += float(view.confidence.mean())
        _, _, _, _, info = env.step(act)
        policy.observe(info)
    if probes == 0:
        raise ValueError(
            f"budget slots = {env.horizon} < probe_every = {every}: no slot was probed"
        )
    surface /= probes
    for k in curves:
        curves[k] /= probes
    from scipy.stats import spearmanr

    def rho(metric: str) -> float:
        value = spearmanr(curves[metric], curves["conf"]).statistic
        return float(value) if np.isfinite(value) else 0.0

    at_mean_angle = surface.mean(axis=1)
    summary = {
        "radius_effect_bits": float(at_mean_angle.max() - at_mean_angle.min()),
        "angle_effect_bits": float((surface.max(axis=1) - surface.min(axis=1)).max()),
        "entropy_at_rmax_bits": float(at_mean_angle[-1]),
        "rho_cross_conf": rho("cross"),
        "rho_geo_i_conf": rho("geo_i"),
        "rho_migration_conf": rho("migration"),
        "probes": float(probes),
    }
    metrics = pd.DataFrame(
        {
            "step": np.arange(len(INTENSITIES), dtype=float),
            "intensity": INTENSITIES,
            "cross_reality_entropy_bits": curves["cross"],
            "geo_i_entropy_bits": curves["geo_i"],
            "migration_entropy_bits": curves["migration"],
            "attacker_confidence": curves["conf"],
        }
    )
    artifacts = {
        "radii": list(RADII),
        "angles_deg": list(ANGLES_DEG),
        "surface": surface.round(5).tolist(),
        "intensity": metrics.drop(columns="step").round(5).to_dict(orient="list"),
    }
    return RunResult(metrics=metrics, summary=summary, artifacts=artifacts)


def _stack(runs: list[tuple[RunSpec, RunResult]], key: str) -> list[Any]:
    return [r.artifacts[key] for _, r in runs if key in r.artifacts]


def draw_surface(runs: list[tuple[RunSpec, RunResult]], ax: Axes) -> pd.DataFrame:
    """Fig. 6: mean cross-reality entropy over radius and included angle (all seeds)."""
    surfaces = _stack(runs, "surface")
    if not surfaces:
        ax.set_axis_off()
        return pd.DataFrame(columns=["radius_frac", "angle_deg", "entropy_bits"])
    mean = np.mean(np.asarray(surfaces), axis=0)
    image = ax.imshow(
        mean,
        origin="lower",
        aspect="auto",
        cmap="viridis",
        extent=(-15, 195, -0.1, 1.1),
    )
    ax.figure.colorbar(image, ax=ax, label="cross-reality entropy (bits)")
    ax.set_xlabel("included angle α (°)")
    ax.set_ylabel("perturbation radius / r_max")
    ax.set_xticks(list(ANGLES_DEG))
    ax.text(
        0.01,
        -0.16,
        f"{len(surfaces)} seed(s); Geo-I states, agent server as Geo-I chose",
        transform=ax.transAxes,
        fontsize=7,
    )
    rows = [
        {"radius_frac": r, "angle_deg": a, "entropy_bits": float(mean[i, j])}
        for i, r in enumerate(RADII)
        for j, a in enumerate(ANGLES_DEG)
    ]
    return pd.DataFrame(rows)


def draw_credibility(runs: list[tuple[RunSpec, RunResult]], ax: Axes) -> pd.DataFrame:
    """Fig. 7: the three privacy metrics (left axis) and the attacker's confidence (right)."""
    tables = [pd.DataFrame(t) for t in _stack(runs, "intensity")]
    if not tables:
        ax.set_axis_off()
        return pd.DataFrame(columns=["intensity"])
    mean = pd.concat(tables).groupby("intensity", as_index=False).mean()
    x = 100 * mean["intensity"]
    for col, label, style in (
        ("cross_reality_entropy_bits", "cross-reality entropy", "-o"),
        ("geo_i_entropy_bits", "Geo-I entropy", "--s"),
        ("migration_entropy_bits", "location entropy (migration only)", ":^"),
    ):
        ax.plot(x, mean[col], style, label=label, ms=4)
    ax.set_xlabel("hybrid action intensity (%)")
    ax.set_ylabel("evaluated privacy (bits)")
    right = ax.twinx()
    right.plot(x, mean["attacker_confidence"], "-", color="k", lw=2, label="attacker confidence")
    right.set_ylabel("attacker confidence")
    right.set_ylim(0, 1.05)
    handles = ax.get_legend_handles_labels()
    extra = right.get_legend_handles_labels()
    ax.legend(handles[0] + extra[0], handles[1] + extra[1], fontsize=7, loc="center right")
    return mean


def claim_radius_dominates(table: pd.DataFrame) -> tuple[str, bool | None]:
    """Paper C Fig. 6: the radius dominates the entropy; the included angle adds more."""
    radius = float(table["radius_effect_bits"].mean())
    angle = float(table["angle_effect_bits"].mean())
    return (
        f"entropy range over the radius {radius:.2f} bits, over the angle at most {angle:.3f} bits",
        radius > angle,
    )


def claim_angle_matters(table: pd.DataFrame) -> tuple[str, bool | None]:
    """Paper C Fig. 6: at a fixed radius the included angle changes the entropy noticeably."""
    angle = float(table["angle_effect_bits"].mean())
    share = angle / max(float(table["entropy_at_rmax_bits"].mean()), 1e-9)
    return f"largest change over α at a fixed radius {angle:.3f} bits ({100 * share:.1f} %)", (
        share >= 0.05
    )


def claim_credibility(table: pd.DataFrame) -> tuple[str, bool | None]:
    """Paper C Fig. 7: only the cross-reality entropy falls as the attacker grows confident."""
    rho = {k: float(table[f"rho_{k}_conf"].mean()) for k in ("cross", "geo_i", "migration")}
    text = (
        f"Spearman ρ with confidence: cross-reality {rho['cross']:+.2f}, Geo-I "
        f"{rho['geo_i']:+.2f}, migration-only {rho['migration']:+.2f}"
    )
    credible = {k: v <= -0.9 for k, v in rho.items()}
    return text, credible["cross"] and not credible["geo_i"] and not credible["migration"]


_NOTES_POLICIES = """\
Geo-I, random and unprotected reference policies; the learners (LHDPPO, HDPPO, H-PPO, GHPPO,
HGDM, PPO-relaxed) come with the next issue. Absolute values differ from the paper's: the
paper does not give the adversary's likelihood widths, its d_T or its history, and our
adversary knows each AV's perturbation radius (σ = the radius used; SPEC's σ = r_max makes
the entropy almost independent of the action). Details: `docs/reproductions/paper-c.md`."""

_NOTES_METRICS = """\
The adversary is probed at Geo-I's states with hypothetical actions (its history
untouched). With σ = the radius the AV used, the radius sets the entropy; the included angle
acts only through the agent-server term, which is nearly flat over the ±3 r_max candidate
grid when the server is hundreds of metres away. Details: `docs/reproductions/paper-c.md`."""

_HERE = __name__
_BUDGETS = {
    "quick": {"slots": 60, "batch": 4, "probe_every": 5},
    "full": {"slots": 360, "batch": 16, "probe_every": 10},
}

register(
    Experiment(
        name="paper-c-policies",
        paper="C",
        title="Paper C Figs. 5 and 8: Geo-I and reference policies, trajectory map",
        preset="paper-c",
        methods=POLICIES,
        run=f"{_HERE}:run_policy",
        seeds=3,
        budgets={k: {"slots": v["slots"], "batch": v["batch"]} for k, v in _BUDGETS.items()},
        figures=(
            Figure.bar("fig5a_utility", "utility", "Fig. 5(a): average AV utility", "utility"),
            Figure.bar(
                "fig5b_entropy",
                "entropy_bits",
                "Fig. 5(b): cross-reality location entropy",
                "entropy (bits)",
            ),
            Figure.bar(
                "fig5c_latency",
                "latency_s",
                "Fig. 5(c): service response latency",
                "latency (s)",
            ),
            Figure.bar("fig5d_qos", "qos_loss", "Fig. 5(d): QoS loss", "ln(1 + d / km)"),
            Figure.bar(
                "attacker_confidence",
                "confidence",
                "The adversary's confidence (max posterior)",
                "confidence",
            ),
            Figure.custom(
                "fig8_map",
                f"{_HERE}:draw_map",
                "Fig. 8: actual vs reported trajectory and agent servers (Geo-I)",
                "latitude (°)",
            ),
        ),
        claims=(
            Claim(
                "Geo-I's cross-reality entropy (Fig. 5(b))",
                "0.499 bits (LHDPPO 0.743)",
                f"{_HERE}:claim_geo_i_entropy",
            ),
            Claim(
                "Geo-I's utility, above no protection (Fig. 5(a))",
                "−3.118 (LHDPPO −2.241)",
                f"{_HERE}:claim_geo_i_utility",
            ),
        ),
        notes=_NOTES_POLICIES,
    )
)

register(
    Experiment(
        name="paper-c-privacy-metrics",
        paper="C",
        title="Paper C Figs. 6-7: the entropy surface and the credibility of privacy metrics",
        preset="paper-c",
        methods=("geo_i",),
        run=f"{_HERE}:run_metrics",
        seeds=3,
        budgets=_BUDGETS,
        figures=(
            Figure.custom(
                "fig6_entropy_surface",
                f"{_HERE}:draw_surface",
                "Fig. 6: cross-reality entropy over radius and included angle",
                "radius / r_max",
            ),
            Figure.custom(
                "fig7_credibility",
                f"{_HERE}:draw_credibility",
                "Fig. 7: evaluated privacy vs attacker confidence",
                "bits",
            ),
        ),
        claims=(
            Claim(
                "The perturbation radius dominates the entropy (Fig. 6)",
                "radius dominates; the angle adds further gains",
                f"{_HERE}:claim_radius_dominates",
            ),
            Claim(
                "At a fixed radius the included angle changes the entropy (Fig. 6)",
                "substantially different privacy levels",
                f"{_HERE}:claim_angle_matters",
            ),
            Claim(
                "Only the cross-reality entropy falls as attacker confidence rises (Fig. 7)",
                "Geo-I and location entropy fail; cross-reality entropy aligned",
                f"{_HERE}:claim_credibility",
            ),
        ),
        notes=_NOTES_METRICS,
    )
)
