"""Case tags become pytest marks: names pytest itself gives meaning to are refused."""

from __future__ import annotations

# Every mark pytest registers itself (`pytest --markers` with plugin autoload off and
# pytester on); a tag with one of these names would skip, xfail or parametrize the case.
PYTEST_MARKS = frozenset(
    {
        "filterwarnings",
        "parametrize",
        "pytester_example_path",
        "skip",
        "skipif",
        "tryfirst",
        "trylast",
        "usefixtures",
        "xfail",
    }
)


def tag_problem(tag: str) -> str | None:
    """Why `tag` cannot be a case tag, or None."""
    if tag in PYTEST_MARKS:
        return (
            f"tags: {tag!r} is one of pytest's own marks (each tag becomes a pytest mark, "
            f"so it would act as @pytest.mark.{tag}); rename it"
        )
    return None
