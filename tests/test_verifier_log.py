"""Reading the verifier's statistics: no kernel needed."""

from ebpf_darshan.verifier_log import combined_stack, parse

REFUSED = ("combined stack size of 3 calls is 528. Too large\n"
           "verification time 1234567 usec\n"
           "stack depth 408+0+80+24+0+64\n"
           "processed 494525 insns (limit 1000000) max_states_per_insn 12 total_states 1 "
           "peak_states 1 mark_read 1\n")
VERIFIED = ("verification time 100 usec\n"
            "stack depth 192+0+64+24\n"
            "processed 162947 insns (limit 1000000) max_states_per_insn 95 total_states 11691 "
            "peak_states 1737 mark_read 0\n")


def test_a_refusal_gives_its_reason_and_counts() -> None:
    stats = parse(REFUSED)
    assert stats.reason == "combined stack size of 3 calls is 528. Too large"
    assert stats.insns == 494525
    # rounded as the verifier rounds: 416 + 32 + 96 + 32 + 32 + 64
    assert stats.frames == (416, 32, 96, 32, 32, 64)


def test_a_verified_program_has_no_reason() -> None:
    stats = parse(VERIFIED)
    assert stats.reason is None and stats.insns == 162947
    assert stats.stack == 192 + 32 + 64 + 32


def test_the_combined_stack_is_the_deepest_chain() -> None:
    frames = (192, 32, 64, 32)
    # 0 calls 2 (which calls 3) and 1
    assert combined_stack(frames, [(0, 1), (0, 2), (2, 3)]) == 192 + 64 + 32
    assert combined_stack(frames, []) == 192


def test_an_empty_log_says_nothing() -> None:
    stats = parse("")
    assert (stats.insns, stats.stack, stats.reason) == (None, None, None)
