"""Chinese-first text handling: normalisation, jieba tokens, tiktoken offline."""

from assistant.text import count_tokens, is_english, lexical_tokens, normalize, split_sentences, squash


def test_full_width_digits_and_stray_spaces_are_normalised():
    assert normalize("２０２５年高新技术企业达到 ６００ 家") == "2025年高新技术企业达到600家"
    assert normalize("跨国公司地区总部累计达 70 家") == "跨国公司地区总部累计达70家"
    assert normalize("　问题\u200b\x00 ") == "问题"


def test_squash_removes_all_whitespace():
    assert squash("新增养老床位 850 张") == "新增养老床位850张"


def test_chinese_is_tokenised_into_words_not_runs():
    tokens = lexical_tokens("新增养老床位850张")
    assert "养老" in tokens and "床位" in tokens and len(tokens) >= 3
    assert "的" not in lexical_tokens("养老的床位")


def test_language_detection():
    assert is_english("How many high-tech enterprises by 2025?")
    assert not is_english("2025年高新技术企业要达到多少家？")


def test_sentences_keep_their_closing_quote():
    assert split_sentences("甲。乙“丙。”丁") == ["甲。", "乙“丙。”", "丁"]


def test_token_counting_works_offline():
    assert count_tokens("新增养老床位 850 张") > 3


def test_chinese_numerals_both_ways():
    from assistant.text import arabic_years, cn_numeral, cn_to_int

    assert [cn_numeral(n) for n in (1, 10, 11, 20, 22)] == ["一", "十", "十一", "二十", "二十二"]
    assert all(cn_to_int(cn_numeral(n)) == n for n in range(1, 100))
    assert cn_to_int("二〇二五") == 2025 and cn_to_int("两") == 2 and cn_to_int("abc") is None
    assert arabic_years("到二〇三五年，二零二二年") == "到2035年，2022年"
