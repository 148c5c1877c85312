"""Header values as Japanese mail really sends them: encoded-words, raw bytes, Windows codes."""

from __future__ import annotations

import base64

import pytest

from sekisho.rules.encoded_words import decode_header_text

SUBJECT = "未承諾広告※"


def b_word(charset: str, data: bytes) -> str:
    return f"=?{charset}?B?{base64.b64encode(data).decode('ascii')}?="


def q_word(charset: str, data: bytes) -> str:
    return f"=?{charset}?Q?{''.join(f'={byte:02X}' for byte in data)}?="


def raw(data: bytes) -> str:
    """Bytes as the milter receives them from Postfix."""
    return data.decode("utf-8", "surrogateescape")


def jis(text: str) -> bytes:
    """The two-byte JIS codes of ``text``, without the escape sequences around them."""
    return text.encode("iso2022_jp").removeprefix(b"\x1b$B").removesuffix(b"\x1b(B")


@pytest.mark.parametrize(
    "word",
    [
        b_word("ISO-2022-JP", SUBJECT.encode("iso2022_jp")),
        b_word("Shift_JIS", SUBJECT.encode("cp932")),
        b_word("EUC-JP", SUBJECT.encode("euc_jp")),
        b_word("UTF-8", SUBJECT.encode("utf-8")),
        q_word("UTF-8", SUBJECT.encode("utf-8")),
    ],
    ids=["iso-2022-jp-b", "shift_jis-b", "euc-jp-b", "utf-8-b", "utf-8-q"],
)
def test_decodes_the_subject_in_each_japanese_charset(word: str) -> None:
    assert decode_header_text(word) == SUBJECT


def test_lowercase_encoding_letters() -> None:
    b = b_word("utf-8", SUBJECT.encode("utf-8")).replace("?B?", "?b?")
    q = q_word("utf-8", SUBJECT.encode("utf-8")).replace("?Q?", "?q?")
    assert decode_header_text(f"{b} {q}") == SUBJECT * 2


def test_q_underscore_is_space_and_equals_is_hex() -> None:
    assert decode_header_text("=?us-ascii?Q?a_b=3Dc_=E2=80=BB?=") == "a b=c \ufffd\ufffd\ufffd"
    assert decode_header_text("=?utf-8?Q?a_b=3Dc_=E2=80=BB?=") == "a b=c ※"


@pytest.mark.parametrize("newline", ["\r\n", "\n"])
def test_folded_encoded_words_join_without_space(newline: str) -> None:
    first = b_word("ISO-2022-JP", "未承諾".encode("iso2022_jp"))
    second = b_word("ISO-2022-JP", "広告".encode("iso2022_jp"))
    assert decode_header_text(f"{first}{newline}\t{second}{newline} {first}") == "未承諾広告未承諾"


def test_space_between_words_of_different_charsets_is_dropped() -> None:
    words = f"{b_word('UTF-8', '未承諾'.encode())}  {b_word('Shift_JIS', '広告'.encode('cp932'))}"
    assert decode_header_text(words) == "未承諾広告"


def test_space_next_to_plain_text_is_kept() -> None:
    word = b_word("UTF-8", SUBJECT.encode())
    assert decode_header_text(f"Re: {word} sale") == f"Re: {SUBJECT} sale"
    assert decode_header_text(f"  {word}\t") == f"  {SUBJECT}\t"


def test_unfolds_plain_text_and_keeps_inner_whitespace() -> None:
    assert decode_header_text("Hello,\r\n  world  \t again") == "Hello,  world  \t again"


def test_shift_jis_character_split_across_two_words() -> None:
    data = SUBJECT.encode("cp932")
    first, second = b_word("SHIFT_JIS", data[:3]), b_word("shift_jis", data[3:])
    assert decode_header_text(f"{first}\r\n {second}") == SUBJECT


def test_rfc2231_language_suffix() -> None:
    word = b_word("ISO-2022-JP*ja", SUBJECT.encode("iso2022_jp"))
    assert decode_header_text(word) == SUBJECT


@pytest.mark.parametrize(
    ("label", "data", "expected"),
    [
        *[
            (label, "①未承諾".encode("cp932"), "①未承諾")
            for label in ("shift-jis", "sjis", "x-sjis", "windows-31j", "cp932", "MS932")
        ],
        *[
            (label, "未承諾丂".encode("euc_jp"), "未承諾丂")  # 丂 is JIS X 0212 (3 bytes)
            for label in ("euc-jp", "x-euc-jp", "eucjp")
        ],
        ("euc-jp", "①未承諾".encode("euc_jis_2004"), "①未承諾"),
        ("utf8", SUBJECT.encode(), SUBJECT),
        ("us-ascii", b"plain", "plain"),
        ("iso-8859-1", "café".encode("latin-1"), "café"),
    ],
)
def test_charset_labels(label: str, data: bytes, expected: str) -> None:
    assert decode_header_text(b_word(label, data)) == expected


@pytest.mark.parametrize(
    ("text", "codec"),
    [
        ("ｾｰﾙ", "iso2022_jp_ext"),  # JIS X 0201 katakana, ESC ( I
        ("①", "iso2022_jp_2"),  # KS C 5601, ESC $ ( C
        ("①㈱", "iso2022_jp_2004"),  # JIS X 0213, ESC $ ( Q
    ],
)
def test_iso_2022_jp_extensions(text: str, codec: str) -> None:
    data = text.encode(codec)
    with pytest.raises(UnicodeDecodeError):
        data.decode("iso2022_jp")
    assert decode_header_text(b_word("ISO-2022-JP", data)) == text


def test_nec_specials_in_iso_2022_jp_as_windows_writes_them() -> None:
    # JIS X 0213 placed the NEC special characters in row 13 where NEC had them, so its
    # encoding, relabelled as JIS X 0208, is the ESC $ B text Outlook sends for ①㈱.
    nec = "①㈱".encode("iso2022_jp_2004").replace(b"\x1b$(Q", b"\x1b$B")
    assert nec == b"\x1b$B-!-j\x1b(B"
    # 髙 (cp932 0xEEE0, NEC-selected IBM row 92) is JIS 0x7C62 in code page 50221.
    data = nec[:-3] + b"|b" + jis("橋様") + b"\x1b(B"
    with pytest.raises(UnicodeDecodeError):
        data.decode("iso2022_jp_2004")
    assert decode_header_text(b_word("ISO-2022-JP", data)) == "①㈱髙橋様"


def test_windows_iso_2022_jp_mixes_katakana_and_nec_specials() -> None:
    data = b"\x1b(I" + "ｾｰﾙ".encode("iso2022_jp_ext")[3:-3] + b"\x1b$B-!\x1b(B!"
    assert decode_header_text(b_word("ISO-2022-JP", data)) == "ｾｰﾙ①!"


def test_shift_jis_mislabelled_iso_2022_jp() -> None:
    assert decode_header_text(b_word("ISO-2022-JP", SUBJECT.encode("cp932"))) == SUBJECT


def test_undefined_jis_code_replaces_only_that_character() -> None:
    data = b"\x1b$B" + jis("未承") + b".!" + jis("諾広告") + b"\x1b(B"  # row 14 is empty
    with pytest.raises(UnicodeDecodeError):
        data.decode("iso2022_jp")
    assert decode_header_text(b_word("ISO-2022-JP", data)) == "未承\ufffd諾広告"


def test_undecodable_word_does_not_spoil_its_neighbours() -> None:
    bad_utf8 = b_word("UTF-8", b"\xff")
    good = b_word("UTF-8", "未承諾".encode())
    other = b_word("ISO-2022-JP", "広告".encode("iso2022_jp"))
    assert decode_header_text(f"{bad_utf8} {good} {other}") == "\ufffd未承諾広告"


@pytest.mark.parametrize("label", ["x-no-such-charset", "ünknown"])
def test_unknown_charset_reads_as_utf8(label: str) -> None:
    assert decode_header_text(b_word(label, "未承諾".encode() + b"\xff")) == "未承諾\ufffd"


def test_broken_base64_is_kept_literally() -> None:
    broken = "=?UTF-8?B?!!!?="
    good = b_word("UTF-8", SUBJECT.encode())
    assert decode_header_text(f"{good} {broken} {good}") == f"{SUBJECT} {broken} {SUBJECT}"
    assert decode_header_text("=?UTF-8?B?abcde?=") == "=?UTF-8?B?abcde?="


@pytest.mark.parametrize("padding", ["", "=", "==="])
def test_base64_padding_is_lenient(padding: str) -> None:
    assert decode_header_text(f"=?UTF-8?B?w6k{padding}?=") == "é"


@pytest.mark.parametrize(
    ("codec", "text"),
    [
        ("utf-8", SUBJECT),
        ("cp932", "①" + SUBJECT),
        ("euc_jp", SUBJECT),
        ("euc_jp", "お知らせ"),
        ("euc_jp", "こんにちは"),
    ],
)
def test_raw_8bit_subjects(codec: str, text: str) -> None:
    assert decode_header_text(raw(f"Re: {text}".encode(codec))) == f"Re: {text}"


def test_raw_euc_jp_is_not_taken_for_shift_jis() -> None:
    # Why EUC-JP is tried before cp932: this EUC-JP is also valid, garbled, cp932.
    data = "お知らせ".encode("euc_jp")
    assert data.decode("cp932") == "､ｪﾃﾎ､鬢ｻ"
    assert decode_header_text(raw(data)) == "お知らせ"


def test_raw_8bit_next_to_encoded_word() -> None:
    header = raw("Re: 未承諾 ".encode("cp932")) + b_word("UTF-8", "広告".encode())
    assert decode_header_text(header) == "Re: 未承諾 広告"


def test_undecodable_raw_bytes_become_replacement_characters() -> None:
    # cp932 maps every single byte, but 0x81 must lead a pair and a space cannot end one
    assert decode_header_text(raw(b"Re: \x81 x")) == "Re: \ufffd x"


def test_raw_7bit_iso_2022_jp() -> None:
    header = f"Re: {SUBJECT} 2"
    assert decode_header_text(header.encode("iso2022_jp").decode("ascii")) == header


@pytest.mark.parametrize("text", ["", "Hello, world", "=?not an encoded word?=", "a=?b"])
def test_plain_ascii_is_unchanged(text: str) -> None:
    assert decode_header_text(text) == text


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("=?utf-8?B??=", ""),
        ("=?utf-8?X?abc?=", "=?utf-8?X?abc?="),
        ("=?utf-8?Q?=ZZ_=4?=", "=ZZ =4"),
        ("=?ISO-2022-JP?B?GyRC?=", ""),  # a lone ESC $ B
        ("=?ISO-2022-JP?B?GyRCLQ==?=", "\ufffd"),  # half a JIS code
        ("\x1b$B\x1b(B", ""),
        ("\ud800 a", "? a"),  # a surrogate no undecodable byte could have produced
    ],
)
def test_never_raises_on_garbage(header: str, expected: str) -> None:
    assert decode_header_text(header) == expected
