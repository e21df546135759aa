"""The SIMD level every benchmark table prints (benchmarks/cpu.py), from /proc/cpuinfo's flags."""

from benchmarks.cpu import percentile, simd_level, summary


def test_simd_level_names_the_widest_vector_unit_and_vnni():
    assert simd_level("flags : fpu sse sse2 avx avx2 fma") == "AVX2"
    assert simd_level("flags : sse2 avx2 avx_vnni") == "AVX2 + VNNI"
    assert simd_level("flags : avx2 avx512f avx512_vnni avx512_bf16") == "AVX-512 + VNNI + BF16"
    assert simd_level("flags : sse sse2") == "SSE"
    assert simd_level("") == "unknown"


def test_summary_gives_median_and_p95():
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.95) == 95.0
    assert summary(values)["median"] == 50.5 and summary(values)["p95"] == 95.0 and summary([])["n"] == 0
