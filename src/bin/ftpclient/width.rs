//! How wide text is on a terminal: columns, not bytes or characters.
//!
//! A terminal draws most characters in one column, but CJK characters and
//! most emoji in two, and some characters in none: combining accents
//! (`e` + U+0301 is one `é`), the variation selectors that ask for emoji
//! or text style, skin-tone modifiers, and the zero-width joiner (ZWJ)
//! that glues several emoji into one picture (👨‍👩‍👧 is five characters,
//! two columns). What a person sees as one character is a *grapheme*;
//! the input line moves, deletes and cuts by graphemes, and measures them
//! in columns, or a wide line would wrap and leave debris on the screen.
//!
//! The rules here follow Unicode's East Asian Width and emoji data in
//! outline (the ranges below cover the scripts and emoji in common use),
//! much as the C function `wcwidth` does. No table is perfect, because
//! terminals themselves disagree; what matters is that the line never
//! takes more columns than we think.

/// Columns a single character takes on its own: 0, 1 or 2.
pub fn char_width(c: char) -> usize {
    let code = c as u32;
    if is_zero_width(code) {
        0
    } else if is_wide(code) {
        2
    } else {
        1
    }
}

/// Columns `text` takes: the sum of its graphemes' widths.
pub fn text_width(text: &str) -> usize {
    graphemes(text).map(grapheme_width).sum()
}

/// Columns one grapheme takes: that of its first character, or 2 for an
/// emoji sequence (a flag, or a character asking for emoji style).
pub fn grapheme_width(grapheme: &str) -> usize {
    let mut chars = grapheme.chars();
    let Some(first) = chars.next() else { return 0 };
    let emoji_style = grapheme.contains('\u{fe0f}') || is_regional_indicator(first as u32);
    if emoji_style && grapheme.chars().count() > 1 {
        return 2;
    }
    char_width(first)
}

/// Splits `text` into graphemes: a character with the zero-width
/// characters after it, characters joined by a ZWJ, and pairs of regional
/// indicators (a flag).
pub fn graphemes(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        let end = next_boundary(rest);
        if end == 0 {
            return None;
        }
        let (grapheme, after) = rest.split_at(end);
        rest = after;
        Some(grapheme)
    })
}

/// The byte index where the first grapheme of `text` ends (0 if `text`
/// is empty).
pub fn next_boundary(text: &str) -> usize {
    let mut chars = text.char_indices().peekable();
    let Some((_, first)) = chars.next() else {
        return 0;
    };
    let mut previous = first as u32;
    let mut flag_half = is_regional_indicator(previous);
    let mut end = first.len_utf8();
    while let Some(&(index, c)) = chars.peek() {
        let code = c as u32;
        let joins =
            is_zero_width(code) || previous == ZWJ || (flag_half && is_regional_indicator(code));
        if !joins {
            break;
        }
        flag_half = false;
        previous = code;
        end = index + c.len_utf8();
        chars.next();
    }
    end
}

/// The byte index where the last grapheme of `text` starts (0 if `text`
/// has at most one).
pub fn previous_boundary(text: &str) -> usize {
    let mut start = 0;
    let mut index = 0;
    while index < text.len() {
        start = index;
        index += next_boundary(&text[index..]);
    }
    start
}

/// The longest start of `text` that fits in `columns`, cut between
/// graphemes.
pub fn fit(text: &str, columns: usize) -> &str {
    let mut used = 0;
    let mut end = 0;
    for grapheme in graphemes(text) {
        used += grapheme_width(grapheme);
        if used > columns {
            break;
        }
        end += grapheme.len();
    }
    &text[..end]
}

/// The zero-width joiner.
const ZWJ: u32 = 0x200d;

fn is_regional_indicator(code: u32) -> bool {
    (0x1f1e6..=0x1f1ff).contains(&code)
}

/// Characters that take no column of their own: combining marks,
/// zero-width and format characters, variation selectors, emoji
/// modifiers.
fn is_zero_width(code: u32) -> bool {
    in_ranges(code, ZERO_WIDTH)
}

/// The ranges of [`is_zero_width`], sorted.
const ZERO_WIDTH: &[(u32, u32)] = &[
    (0x0300, 0x036f), // combining diacritical marks
    (0x0483, 0x0489),
    (0x0591, 0x05bd),
    (0x05bf, 0x05c7),
    (0x0610, 0x061a),
    (0x064b, 0x065f),
    (0x0670, 0x0670),
    (0x06d6, 0x06dc),
    (0x06df, 0x06e4),
    (0x06e7, 0x06ed),
    (0x0900, 0x0902), // Devanagari signs above the line
    (0x093a, 0x093a),
    (0x093c, 0x093c),
    (0x0941, 0x0948),
    (0x094d, 0x094d),
    (0x0951, 0x0957),
    (0x0e31, 0x0e31), // Thai vowels and tones above and below
    (0x0e34, 0x0e3a),
    (0x0e47, 0x0e4e),
    (0x1ab0, 0x1aff),
    (0x1dc0, 0x1dff),
    (0x200b, 0x200f), // zero width space, joiners, direction marks
    (0x202a, 0x202e),
    (0x2060, 0x2064),
    (0x20d0, 0x20ff), // combining marks for symbols
    (0xfe00, 0xfe0f), // variation selectors
    (0xfe20, 0xfe2f),
    (0xfeff, 0xfeff),
    (0x1f3fb, 0x1f3ff), // emoji skin tones
    (0xe0000, 0xe007f), // tags (in some flags)
    (0xe0100, 0xe01ef),
];

/// Characters a terminal draws in two columns: East Asian wide and full
/// width characters, and emoji.
fn is_wide(code: u32) -> bool {
    in_ranges(code, WIDE)
}

/// The ranges of [`is_wide`], sorted.
const WIDE: &[(u32, u32)] = &[
    (0x1100, 0x115f), // Hangul Jamo
    (0x231a, 0x231b),
    (0x2329, 0x232a),
    (0x23e9, 0x23ec),
    (0x23f0, 0x23f0),
    (0x23f3, 0x23f3),
    (0x25fd, 0x25fe),
    (0x2614, 0x2615),
    (0x2648, 0x2653),
    (0x267f, 0x267f),
    (0x2693, 0x2693),
    (0x26a1, 0x26a1),
    (0x26aa, 0x26ab),
    (0x26bd, 0x26be),
    (0x26c4, 0x26c5),
    (0x26ce, 0x26ce),
    (0x26d4, 0x26d4),
    (0x26ea, 0x26ea),
    (0x26f2, 0x26f3),
    (0x26f5, 0x26f5),
    (0x26fa, 0x26fa),
    (0x26fd, 0x26fd),
    (0x2705, 0x2705),
    (0x270a, 0x270b),
    (0x2728, 0x2728),
    (0x274c, 0x274c),
    (0x274e, 0x274e),
    (0x2753, 0x2755),
    (0x2757, 0x2757),
    (0x2795, 0x2797),
    (0x27b0, 0x27b0),
    (0x27bf, 0x27bf),
    (0x2b1b, 0x2b1c),
    (0x2b50, 0x2b50),
    (0x2b55, 0x2b55),
    (0x2e80, 0x303e), // CJK radicals, punctuation
    (0x3041, 0x33ff), // kana, CJK symbols
    (0x3400, 0x4dbf), // CJK extension A
    (0x4e00, 0x9fff), // CJK unified ideographs
    (0xa000, 0xa4cf), // Yi
    (0xa960, 0xa97f),
    (0xac00, 0xd7a3), // Hangul syllables
    (0xf900, 0xfaff),
    (0xfe10, 0xfe19),
    (0xfe30, 0xfe6f),
    (0xff00, 0xff60), // full width forms
    (0xffe0, 0xffe6),
    (0x16fe0, 0x16fe4),
    (0x17000, 0x18aff),
    (0x1b000, 0x1b2ff),
    (0x1f004, 0x1f004),
    (0x1f0cf, 0x1f0cf),
    (0x1f18e, 0x1f18e),
    (0x1f191, 0x1f19a),
    (0x1f1e6, 0x1f1ff), // regional indicators (a pair is a flag)
    (0x1f200, 0x1f202),
    (0x1f210, 0x1f23b),
    (0x1f240, 0x1f248),
    (0x1f250, 0x1f251),
    (0x1f260, 0x1f265),
    (0x1f300, 0x1f64f), // pictographs, emoticons
    (0x1f680, 0x1f6ff), // transport and map symbols
    (0x1f7e0, 0x1f7f0),
    (0x1f90c, 0x1f9ff), // supplemental symbols and pictographs
    (0x1fa70, 0x1faff),
    (0x20000, 0x2fffd), // CJK extensions
    (0x30000, 0x3fffd),
];

/// Whether `code` is in one of `ranges` (sorted, inclusive).
fn in_ranges(code: u32, ranges: &[(u32, u32)]) -> bool {
    ranges
        .binary_search_by(|&(low, high)| {
            if high < code {
                std::cmp::Ordering::Less
            } else if low > code {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_of_scripts_and_emoji() {
        assert_eq!(text_width("abc"), 3);
        assert_eq!(text_width("日本語"), 6);
        assert_eq!(text_width("한국어"), 6);
        assert_eq!(text_width("🙂"), 2);
        assert_eq!(text_width("e\u{301}"), 1, "e and a combining acute");
        assert_eq!(text_width("\u{200b}"), 0);
    }

    #[test]
    fn emoji_sequences_are_one_grapheme_of_two_columns() {
        let family = "👨\u{200d}👩\u{200d}👧";
        assert_eq!(graphemes(family).collect::<Vec<_>>(), [family]);
        assert_eq!(text_width(family), 2);
        let thumbs = "👍\u{1f3fd}"; // with a skin tone
        assert_eq!(graphemes(thumbs).count(), 1);
        assert_eq!(text_width(thumbs), 2);
        let flags = "🇫🇷🇩🇪";
        assert_eq!(graphemes(flags).collect::<Vec<_>>(), ["🇫🇷", "🇩🇪"]);
        assert_eq!(text_width(flags), 4);
        let heart = "\u{2764}\u{fe0f}"; // a text symbol in emoji style
        assert_eq!(text_width(heart), 2);
    }

    #[test]
    fn boundaries_fall_between_graphemes() {
        let text = "ae\u{301}👨\u{200d}👩x";
        let pieces: Vec<&str> = graphemes(text).collect();
        assert_eq!(pieces, ["a", "e\u{301}", "👨\u{200d}👩", "x"]);
        assert_eq!(previous_boundary(text), text.len() - 1);
        assert_eq!(previous_boundary("e\u{301}"), 0);
        assert_eq!(next_boundary(""), 0);
    }

    #[test]
    fn fitting_never_splits_a_wide_character() {
        assert_eq!(fit("日本語", 5), "日本");
        assert_eq!(fit("日本語", 6), "日本語");
        assert_eq!(fit("ab🙂", 3), "ab");
        assert_eq!(fit("e\u{301}e\u{301}", 1), "e\u{301}");
    }

    #[test]
    fn the_range_tables_are_sorted_and_apart() {
        // The binary search needs it.
        for table in [ZERO_WIDTH, WIDE] {
            for pair in table.windows(2) {
                assert!(pair[0].0 <= pair[0].1 && pair[0].1 < pair[1].0, "{pair:x?}");
            }
        }
    }
}
