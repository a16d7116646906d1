"""Throughput of geoloc-embed against the reference implementations, outputs checked first.

One process, same weights and same points on both sides. Every comparison first checks that the
two implementations agree within a tolerance (the script exits with status 1 if any check fails,
before any timing is printed), then times both, interleaved, best of ``--repeats`` rounds:

1. CSP grid (``csp-bluemarble``): ``model.encode`` vs the CSP authors' computational approach
   (csp-spec.md §1.2/§8): per forward the position encoding is computed in numpy float64 on the
   CPU, cast to a float32 tensor, then the same torch FFN (``model.network``). Batch 65,536, plus
   the pure two-matmul ceiling of the FFN shape (128 -> 512 -> 256, over 1,024-row chunks into
   preallocated buffers). Tolerance 1e-5.
   With ``--device cuda``, the same comparison on the accelerator (``compare_csp_device``): their
   CPU numpy encoding + transfer + FFN on the device vs ours entirely on the device.
2. GeoCLIP: ``from_pretrained("geoclip")`` vs the geoclip wheel's own ``LocationEncoder`` module
   (loaded by file path, its shipped weights). 20,000 points; GeoCLIP takes (lat, lon). Tolerance
   1e-4 (GeoCLIP's own float32 path rounds phases of ~6000 rad: ~2e-5 differences are expected).
3. SatCLIP spherical harmonics, L = 10 and 40: our float32 features vs the analytic (sympy
   generated, float64) ``SphericalHarmonics`` module shipped in the ``rangegeo`` wheel
   (``pip install --no-deps rangegeo``), features alone, 100,000 points, checked within 1e-4 for
   |lat| < 30 deg. Then the whole SatCLIP location encoder (SH + SIREN 512 x 2 -> 256, same
   weights): our float32 ``encode`` vs rangegeo's ``LocationEncoder(SphericalHarmonics, SirenNet)``
   in float64, as its checkpoint loader builds it, 20,000 points, embeddings checked within 1e-4
   for |lat| < 30 deg. Skipped with a note when rangegeo is missing.

Neither ``geoclip`` nor ``rangegeo`` is imported as a package (their ``__init__`` pull heavy
dependencies): only the needed module files are loaded by path.

Usage:
    python benchmarks/compare_references.py [--repeats 5] [--threads N] [--skip-satclip]
                                            [--only {csp,geoclip,satclip}] [--sh-points 100000]
                                            [--sh-model-points 20000] [--device cuda]
                                            [--device-points 1048576]

CPU timings on a small shared VM are noisy: compare ratios from the same run only.
"""

import argparse
import importlib.metadata
import importlib.util
import math
import sys
import time
import types
from pathlib import Path
from typing import Callable, Dict, List, Optional

import numpy as np
import torch

import geoloc_embed as ge

sys.path.insert(0, str(Path(__file__).resolve().parent))
from encode_throughput import CEILING_CHUNK, gemm_ceiling_run  # noqa: E402  (the encode benchmark's ceiling)


class CheckFailed(RuntimeError):
    pass


# --------------------------------------------------------------------------- helpers
def interleaved_best(fns: Dict[str, Callable[[], object]], repeats: int, warmup: bool = True) -> Dict[str, float]:
    """Best wall time per function; one warm-up each (unless the check already ran them), then
    ``repeats`` rounds calling each in turn."""
    if warmup:
        for fn in fns.values():
            fn()
    best = {name: math.inf for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def check_close(label: str, got: np.ndarray, expected: np.ndarray, atol: float) -> float:
    """Max absolute difference; raises CheckFailed above ``atol`` (or on a shape mismatch / NaN)."""
    got, expected = np.asarray(got, np.float64), np.asarray(expected, np.float64)
    if got.shape != expected.shape:
        raise CheckFailed(f"{label}: shape {got.shape} != {expected.shape}")
    diff = float(np.abs(got - expected).max())
    if not diff <= atol:
        raise CheckFailed(f"{label}: max |diff| = {diff:.3g} > {atol:g}")
    print(f"  check {label}: max |diff| = {diff:.2e} <= {atol:g}  OK")
    return diff


def load_module_by_path(package: str, directory: Path, module: str, extra: Optional[Dict] = None):
    """Load ``directory/module.py`` as ``package.module`` without running the package's __init__."""
    if package not in sys.modules:
        pkg = types.ModuleType(package)
        pkg.__path__ = [str(directory)]
        sys.modules[package] = pkg
        for name, mod in (extra or {}).items():
            sys.modules[f"{package}.{name}"] = mod
    spec = importlib.util.spec_from_file_location(f"{package}.{module}", directory / f"{module}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def random_points(n: int, seed: int, max_abs_lat: float = 90.0) -> np.ndarray:
    """(n, 2) float32 [lon, lat] degrees, uniform on the sphere (optionally a latitude band)."""
    rng = np.random.default_rng(seed)
    lon = rng.uniform(-180.0, 180.0, n)
    s = math.sin(math.radians(max_abs_lat))
    lat = np.degrees(np.arcsin(rng.uniform(-s, s, n)))
    return np.stack([lon, lat], 1).astype(np.float32)


def ms(t: float) -> str:
    return f"{t * 1e3:.1f}"


# --------------------------------------------------------------------------- 1. CSP grid
def csp_authors_pe(lonlat32: np.ndarray, min_radius: float, max_radius: float, frequency_num: int) -> np.ndarray:
    """Space2Vec grid PE as the CSP code computes it (csp-spec.md §1.2): numpy float64 on the CPU.

    Raw degrees (already rounded to float32), omega_s = 1 / (r_min (r_max/r_min)^(s/(S-1))), no 2 pi;
    layout coordinate-major, then scale, then (sin, cos) -> (N, 4S).
    """
    s = np.arange(frequency_num, dtype=np.float64)
    freq = 1.0 / (min_radius * (max_radius / min_radius) ** (s / (frequency_num - 1)))
    coords = lonlat32.astype(np.float64)                                   # (N, 2)
    # like the authors: expand to (N, 2, S, 2), multiply, then sin on even / cos on odd slots
    angles = np.repeat((coords[:, :, None] * freq[None, None, :])[..., None], 2, axis=3)
    angles[..., 0] = np.sin(angles[..., 0])
    angles[..., 1] = np.cos(angles[..., 1])
    return angles.reshape(len(coords), 4 * frequency_num)


def compare_csp(n: int, repeats: int) -> List[str]:
    print(f"[1] CSP grid (csp-bluemarble), {n:,} points")
    model = ge.LocationEncoder.from_pretrained("csp-bluemarble").eval()
    pe_cfg, net_cfg = model.config.position_encoder, model.config.network
    points = random_points(n, seed=1)
    points[:4] = [[180.0, 90.0], [-180.0, -90.0], [0.0, 0.0], [179.999, -0.001]]

    def authors() -> torch.Tensor:
        with torch.no_grad():
            pe = csp_authors_pe(points, pe_cfg.min_radius, pe_cfg.max_radius, pe_cfg.frequency_num)
            pe = torch.from_numpy(pe).float()
            return model.network(pe)

    def ours() -> np.ndarray:
        return model.encode(points)

    check_close("CSP ours vs authors' approach", ours(), authors().numpy(), 1e-5)
    ceiling_run = gemm_ceiling_run(n, pe_cfg.feature_dim, net_cfg.hidden_dim, net_cfg.embed_dim)
    best = interleaved_best({"ours": ours, "authors": authors, "ceiling": ceiling_run}, repeats)
    ceiling = best["ceiling"]
    return [
        f"| CSP grid encode | {n:,} | {ms(best['ours'])} | {n / best['ours']:,.0f} "
        f"| authors' approach (numpy f64 PE + same FFN) | {ms(best['authors'])} | {n / best['authors']:,.0f} "
        f"| **{best['authors'] / best['ours']:.2f}x** |",
        f"| CSP grid encode | {n:,} | {ms(best['ours'])} | {n / best['ours']:,.0f} "
        f"| two-matmul ceiling 128->512->256 ({CEILING_CHUNK}-row chunks) | {ms(ceiling)} | {n / ceiling:,.0f} "
        f"| {ceiling / best['ours']:.2f} of ceiling |",
    ]


def compare_csp_device(n: int, repeats: int, device: str) -> List[str]:
    """CSP grid on an accelerator: ours on-device vs the authors' CPU numpy encoding + FFN on the device.

    The authors' approach computes the position encoding in numpy float64 on the CPU every forward
    and moves it to the device for the FFN (csp-spec.md sections 1.2 and 8). Two comparisons:
    device tensor in and out (``model(x)`` vs their encoding + transfer + FFN), and NumPy in and
    out (``encode(points, device=...)`` vs the same plus their copy back to the host).
    """
    print(f"[1] CSP grid (csp-bluemarble) on {device}, {n:,} points")
    target = torch.device(device)
    model = ge.LocationEncoder.from_pretrained("csp-bluemarble").to(target).eval()
    pe_cfg = model.config.position_encoder
    points = random_points(n, seed=1)
    points[:4] = [[180.0, 90.0], [-180.0, -90.0], [0.0, 0.0], [179.999, -0.001]]
    on_device = torch.as_tensor(points, dtype=torch.float32, device=target)

    def sync() -> None:
        if target.type == "cuda":
            torch.cuda.synchronize(target)

    def authors() -> torch.Tensor:
        with torch.no_grad():
            pe = csp_authors_pe(points, pe_cfg.min_radius, pe_cfg.max_radius, pe_cfg.frequency_num)
            result = model.network(torch.from_numpy(pe).float().to(target))
            sync()
            return result

    def authors_to_host() -> np.ndarray:
        return authors().cpu().numpy()

    def ours_forward() -> torch.Tensor:
        with torch.inference_mode():
            result = model(on_device)
            sync()
            return result

    def ours_encode() -> np.ndarray:
        return model.encode(points, device=target)

    expected = authors_to_host()
    check_close(f"CSP ours ({device} forward) vs authors' approach", ours_forward().cpu().numpy(), expected, 1e-5)
    check_close(f"CSP ours ({device} encode) vs authors' approach", ours_encode(), expected, 1e-5)
    best = interleaved_best({"ours forward": ours_forward, "authors": authors, "ours encode": ours_encode,
                             "authors to host": authors_to_host}, repeats)
    return [
        f"| CSP grid forward on {device} (tensor in/out) | {n:,} | {ms(best['ours forward'])} "
        f"| {n / best['ours forward']:,.0f} | authors' approach (numpy f64 PE on CPU + FFN on {device}) "
        f"| {ms(best['authors'])} | {n / best['authors']:,.0f} "
        f"| **{best['authors'] / best['ours forward']:.1f}x** |",
        f"| CSP grid encode on {device} (NumPy in/out) | {n:,} | {ms(best['ours encode'])} "
        f"| {n / best['ours encode']:,.0f} | the same, copied back to the host "
        f"| {ms(best['authors to host'])} | {n / best['authors to host']:,.0f} "
        f"| **{best['authors to host'] / best['ours encode']:.1f}x** |",
    ]


# --------------------------------------------------------------------------- 2. GeoCLIP
def load_geoclip_reference():
    """GeoCLIP's own LocationEncoder (wheel's location_encoder.py + rff/) with its shipped weights."""
    from geoloc_embed.convert.geoclip import find_geoclip_weights

    weights = find_geoclip_weights()
    if weights is None:
        return None
    model_dir = weights.parent.parent
    misc = types.ModuleType("_geoclip_ref_model.misc")  # the real misc.py imports pandas
    misc.file_dir = str(model_dir)
    module = load_module_by_path("_geoclip_ref_model", model_dir, "location_encoder", {"misc": misc})
    reference = module.LocationEncoder(from_pretrained=False)
    reference.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    return reference.eval()


def compare_geoclip(n: int, repeats: int) -> List[str]:
    print(f"[2] GeoCLIP, {n:,} points")
    reference = load_geoclip_reference()
    if reference is None:
        print("  SKIPPED: the geoclip wheel is not installed (pip install --no-deps geoclip)")
        return ["| GeoCLIP | - | - | - | skipped: geoclip wheel not installed | - | - | - |"]
    ours_model = ge.LocationEncoder.from_pretrained("geoclip").eval()
    points = random_points(n, seed=2)
    points[:4] = [[180.0, 90.0], [-180.0, -90.0], [0.0, 0.0], [179.999, -0.001]]
    latlon = torch.from_numpy(np.ascontiguousarray(points[:, ::-1]))  # GeoCLIP takes (lat, lon)

    def theirs() -> torch.Tensor:
        with torch.no_grad():
            return reference(latlon)

    def ours() -> np.ndarray:
        return ours_model.encode(points)

    diff = check_close("GeoCLIP ours vs geoclip module (f32)", ours(), theirs().numpy(), 1e-4)
    best = interleaved_best({"ours": ours, "theirs": theirs}, repeats, warmup=False)  # the check warmed both
    return [f"| GeoCLIP encode | {n:,} | {ms(best['ours'])} | {n / best['ours']:,.0f} "
            f"| geoclip 1.3.0 LocationEncoder (max diff {diff:.1e}) | {ms(best['theirs'])} "
            f"| {n / best['theirs']:,.0f} | **{best['theirs'] / best['ours']:.2f}x** |"]


# --------------------------------------------------------------------------- 3. SatCLIP SH
def load_rangegeo_sh():
    try:
        root = Path(importlib.metadata.distribution("rangegeo").locate_file("rangegeo"))
    except importlib.metadata.PackageNotFoundError:
        return None
    directory = root / "satclip" / "positional_encoding"
    if not (directory / "spherical_harmonics.py").is_file():
        return None
    return load_module_by_path("_rangegeo_satclip_pe", directory, "spherical_harmonics")


def load_rangegeo_location_encoder(sh_module):
    """rangegeo's ``satclip/location_encoder.py`` (LocationEncoder, SirenNet), loaded by path.

    Its ``from . import positional_encoding`` is served by ``sh_module`` (no second copy of the
    8 MB table); ``einops`` (used only by SIREN modulation, which SatCLIP does not use) is stubbed
    when it is not installed.
    """
    if "_rangegeo_satclip.location_encoder" in sys.modules:
        return sys.modules["_rangegeo_satclip.location_encoder"]
    root = Path(importlib.metadata.distribution("rangegeo").locate_file("rangegeo")) / "satclip"
    if "einops" not in sys.modules and importlib.util.find_spec("einops") is None:
        einops = types.ModuleType("einops")

        def rearrange(*args, **kwargs):
            raise NotImplementedError("einops stub: SIREN modulation is not used by SatCLIP")

        einops.rearrange = rearrange
        sys.modules["einops"] = einops
    positional_encoding = types.ModuleType("_rangegeo_satclip.positional_encoding")
    positional_encoding.SphericalHarmonics = sh_module.SphericalHarmonics
    return load_module_by_path("_rangegeo_satclip", root, "location_encoder",
                               {"positional_encoding": positional_encoding})


def compare_satclip_sh(n: int, repeats: int, degrees=(10, 40), model_points: int = 20000) -> List[str]:
    print(f"[3] SatCLIP spherical harmonics: features ({n:,} points), then SH + SIREN models")
    try:
        module = load_rangegeo_sh()
    except Exception as exc:  # a broken third-party file must not sink the other comparisons
        module = None
        print(f"  loading rangegeo failed: {exc!r}")
    if module is None:
        print("  SKIPPED: rangegeo is not installed (pip install --no-deps rangegeo)")
        return ["| SatCLIP SH | - | - | - | skipped: rangegeo not installed | - | - | - |"]
    rows = []
    points = random_points(n, seed=3)
    band = random_points(20000, seed=4, max_abs_lat=30.0)
    for L in degrees:
        pe = ge.create_model("satclip-sh-siren", sh_degree=L).eval().position_encoder
        reference = module.SphericalHarmonics(legendre_polys=L, harmonics_calculation="analytic")
        with torch.no_grad():
            got = pe(torch.from_numpy(band)).numpy()
            expected = reference(torch.from_numpy(band).double()).numpy()
        check_close(f"SH L={L} ours f32 vs rangegeo f64, |lat|<30", got, expected, 1e-4)
        if L >= 40:  # documented: the generated table loses accuracy near the poles at high degree
            with torch.no_grad():
                full = torch.from_numpy(points[:20000])
                d = np.abs(pe(full).numpy() - reference(full.double()).numpy()).max()
            print(f"  note: all latitudes at L={L}: max |diff| = {d:.2e} (rangegeo's sympy table is "
                  "inaccurate at high latitude; ours is checked against scipy in tests/test_harmonics.py)")
        x32, x64 = torch.from_numpy(points), torch.from_numpy(points).double()

        def ours() -> torch.Tensor:
            with torch.no_grad():
                return pe(x32)

        def theirs() -> torch.Tensor:
            with torch.no_grad():
                return reference(x64)

        best = interleaved_best({"ours": ours, "theirs": theirs}, repeats if L < 40 else min(repeats, 3))
        rows.append(f"| SatCLIP SH features L={L} ({L * L} dims) | {n:,} | {ms(best['ours'])} "
                    f"| {n / best['ours']:,.0f} | rangegeo SatCLIP SphericalHarmonics (f64) "
                    f"| {ms(best['theirs'])} | {n / best['theirs']:,.0f} "
                    f"| **{best['theirs'] / best['ours']:.1f}x** |")
        if model_points > 0:
            rows.append(compare_satclip_model(module, L, model_points, repeats if L < 40 else min(repeats, 3)))
    return rows


def compare_satclip_model(sh_module, L: int, n: int, repeats: int) -> str:
    """SH + SIREN embeddings: our float32 ``encode`` vs rangegeo's float64 SatCLIP location encoder."""
    try:
        module = load_rangegeo_location_encoder(sh_module)
    except Exception as exc:  # a broken third-party file must not sink the other comparisons
        print(f"  loading rangegeo's location_encoder failed: {exc!r}")
        return f"| SatCLIP SH+SIREN L={L} | - | - | - | skipped: rangegeo location_encoder not loadable | - | - | - |"
    torch.manual_seed(L)
    model = ge.create_model("satclip-sh-siren", sh_degree=L).eval()  # SH + SIREN 2 x 512 -> 256
    reference = module.LocationEncoder(
        sh_module.SphericalHarmonics(legendre_polys=L, harmonics_calculation="analytic"),
        module.get_neural_network("siren", input_dim=L * L, num_classes=256, dim_hidden=512, num_layers=2),
    ).double().eval()                                   # as rangegeo's load_satclip_location_encoder builds it
    reference.nnet.load_state_dict({k: v.double() for k, v in model.network.state_dict().items()})
    points = random_points(n, seed=5)
    band = random_points(min(n, 20000), seed=6, max_abs_lat=30.0)

    def theirs_on(p: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return reference(torch.from_numpy(p).double()).numpy()

    check_close(f"SH+SIREN L={L} ours f32 encode vs rangegeo f64 model, |lat|<30", model.encode(band),
                theirs_on(band), 1e-4)
    if L >= 40:
        d = np.abs(model.encode(points[:5000]) - theirs_on(points[:5000])).max()
        print(f"  note: SH+SIREN all latitudes at L={L}: max |diff| = {d:.2e} (rangegeo's SH table, see above)")
    x64 = torch.from_numpy(points).double()

    def ours() -> np.ndarray:
        return model.encode(points)

    def theirs() -> torch.Tensor:
        with torch.no_grad():
            return reference(x64)

    best = interleaved_best({"ours": ours, "theirs": theirs}, repeats)
    return (f"| SatCLIP SH+SIREN encode L={L} (512x2 -> 256) | {n:,} | {ms(best['ours'])} "
            f"| {n / best['ours']:,.0f} | rangegeo SatCLIP LocationEncoder (f64, as loaded) "
            f"| {ms(best['theirs'])} | {n / best['theirs']:,.0f} | **{best['theirs'] / best['ours']:.1f}x** |")


# --------------------------------------------------------------------------- main
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds per comparison (best is kept)")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    parser.add_argument("--csp-points", type=int, default=65536)
    parser.add_argument("--geoclip-points", type=int, default=20000)
    parser.add_argument("--sh-points", type=int, default=100000)
    parser.add_argument("--sh-model-points", type=int, default=20000,
                        help="points for the SatCLIP SH + SIREN rows (0 skips them)")
    parser.add_argument("--skip-satclip", action="store_true")
    parser.add_argument("--only", choices=("csp", "geoclip", "satclip"), default=None,
                        help="run one comparison only (default: all)")
    parser.add_argument("--device", default=None,
                        help="also time the CSP comparison on this accelerator (e.g. cuda); "
                             "--device-points sets its batch")
    parser.add_argument("--device-points", type=int, default=1 << 20)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, geoloc-embed {ge.__version__}")

    rows: List[str] = []
    try:
        if args.only in (None, "csp"):
            rows += compare_csp(args.csp_points, args.repeats)
            if args.device:
                rows += compare_csp_device(args.device_points, args.repeats, args.device)
        if args.only in (None, "geoclip"):
            rows += compare_geoclip(args.geoclip_points, args.repeats)
        if args.only == "satclip" or (args.only is None and not args.skip_satclip):
            rows += compare_satclip_sh(args.sh_points, args.repeats, model_points=args.sh_model_points)
    except CheckFailed as exc:
        print(f"CHECK FAILED: {exc}; no timings reported", file=sys.stderr)
        return 1

    print()
    print(f"CPU{' and ' + args.device if args.device else ''}, float32, eval, {torch.get_num_threads()} threads, "
          f"best of {args.repeats} interleaved rounds "
          "(at most 3 for SH L=40). Ratio = reference time / ours (>1: ours faster).")
    print()
    print("| what | points | ours ms | ours points/s | reference | ref ms | ref points/s | ratio |")
    print("|---|---:|---:|---:|---|---:|---:|---:|")
    for row in rows:
        print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
