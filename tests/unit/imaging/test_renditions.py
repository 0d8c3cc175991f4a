"""RENDITIONS parsing, the settings that read it, and the rendition key layout."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handlers.common.config import ConfigError
from handlers.imaging import renditions
from handlers.imaging.renditions import OutputFormat, RenditionSpec
from handlers.index.keys import MAX_KEY_BYTES, KeyTooLong, rendition_key
from handlers.index.settings import ResizeSettings


def test_a_spec_lists_sizes_and_formats_in_order() -> None:
    assert renditions.parse(" 200:jpeg, 200:WebP ,800:webp,1600:avif,64:jpg") == (
        RenditionSpec(200, OutputFormat.JPEG),
        RenditionSpec(200, OutputFormat.WEBP),
        RenditionSpec(800, OutputFormat.WEBP),
        RenditionSpec(1600, OutputFormat.AVIF),
        RenditionSpec(64, OutputFormat.JPEG),
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("200:jpeg,,800:webp", "empty item"),
        ("200", "not SIZE:FORMAT"),
        ("big:jpeg", "not a whole number"),
        ("0:jpeg", "1..10000"),
        ("20000:jpeg", "1..10000"),
        ("200:gif", "unknown format"),
        ("200:webp,200:webp", "listed twice"),
        ("200:auto,200:png", "same .png key"),
        ("1:jpeg,2:jpeg,3:jpeg,4:jpeg,5:jpeg,6:jpeg,7:jpeg,8:jpeg,9:jpeg", "at most 8"),
    ],
)
def test_invalid_specs_are_refused_saying_why(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        renditions.parse(text)


def test_settings_default_to_the_single_auto_thumbnail() -> None:
    assert ResizeSettings.from_env({}).renditions == (RenditionSpec(200, OutputFormat.AUTO),)
    assert ResizeSettings.from_env({"THUMBNAIL_MAX_SIZE": "120"}).renditions == (
        RenditionSpec(120, OutputFormat.AUTO),
    )
    read = ResizeSettings.from_env({"RENDITIONS": "800:webp,200:jpeg"}).renditions
    assert [spec.name for spec in read] == ["800:webp", "200:jpeg"]


def test_an_invalid_spec_fails_the_cold_start_with_a_clear_message() -> None:
    with pytest.raises(ConfigError, match=r"RENDITIONS='200:gif'.*unknown format.*SIZE:FORMAT"):
        ResizeSettings.from_env({"RENDITIONS": "200:gif"})


def test_renditions_and_thumbnail_max_size_together_are_refused() -> None:
    with pytest.raises(ConfigError, match="not both"):
        ResizeSettings.from_env({"RENDITIONS": "200:jpeg", "THUMBNAIL_MAX_SIZE": "200"})


def key(source: str, size: int = 200, out_format: str = "JPEG") -> str:
    return rendition_key(source, "uploads/", "thumbnails/", size, out_format)


def test_the_layout_keeps_the_whole_source_name_under_a_size_folder() -> None:
    assert key("uploads/holiday/beach.jpg") == "thumbnails/200/holiday/beach.jpg.jpg"
    assert key("uploads/x.png", 800, "WEBP") == "thumbnails/800/x.png.webp"
    # Today's bug: both wrote thumbnails/x.jpg.
    assert key("uploads/x.png") != key("uploads/x.jpg")


_SEGMENT = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=12)
_SOURCES = st.lists(_SEGMENT, min_size=1, max_size=4).map(
    lambda parts: "uploads/" + "/".join(parts)
)
_RENDITION = st.tuples(st.sampled_from([64, 200, 800, 1600]), st.sampled_from(list("JPWA")))
_FORMATS = {"J": "JPEG", "P": "PNG", "W": "WEBP", "A": "AVIF"}


@given(_SOURCES, _RENDITION, _SOURCES, _RENDITION)
def test_no_two_sources_or_renditions_share_a_key(
    a: str, ra: tuple[int, str], b: str, rb: tuple[int, str]
) -> None:
    if (a, ra) != (b, rb):
        assert key(a, ra[0], _FORMATS[ra[1]]) != key(b, rb[0], _FORMATS[rb[1]])


def test_a_key_that_would_be_too_long_for_s3_is_refused() -> None:
    longest = "uploads/" + "é" * ((MAX_KEY_BYTES - len("uploads/")) // 2)  # 1,024 bytes or less
    assert len(longest.encode()) <= MAX_KEY_BYTES
    with pytest.raises(KeyTooLong, match="over S3's limit of 1,024") as caught:
        key(longest, 1600, "WEBP")
    assert len(caught.value.key.encode()) > MAX_KEY_BYTES
    # The longest source whose every default key fits.
    fits = "uploads/" + "a" * (MAX_KEY_BYTES - len("thumbnails/200/") - len(".jpg"))
    assert len(key(fits).encode()) == MAX_KEY_BYTES
