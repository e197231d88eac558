//! Recovery phrases: creating one from the OS's random source, and checking one the user
//! types, word by word, with suggestions for a misspelt word. Errors name positions, never
//! the words, so they can be logged without leaking the phrase.

use bip39::{Language, Mnemonic};
use coldlink_types::Sensitive;
use zeroize::Zeroizing;

/// Why a phrase is not a valid recovery phrase.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MnemonicError {
    /// Not 12, 15, 18, 21 or 24 words.
    #[error("a recovery phrase has 12, 15, 18, 21 or 24 words; this one has {0}")]
    WordCount(usize),
    /// A word that is not in the BIP39 English list (1-based position), with close words.
    #[error("word {position} is not a recovery-phrase word")]
    UnknownWord {
        /// 1-based position of the word.
        position: usize,
        /// Close words from the list, best first.
        suggestions: Vec<&'static str>,
    },
    /// All words are valid but the last one does not match the others.
    #[error("these words do not form a valid recovery phrase (checksum): check their order and spelling")]
    Checksum,
    /// The system random source failed.
    #[error("the system random number generator failed")]
    Random,
}

/// A new recovery phrase of `words` words (12 or 24) from the OS's random source.
pub fn generate_mnemonic(words: usize) -> Result<Sensitive<String>, MnemonicError> {
    let bytes = match words {
        12 => 16,
        24 => 32,
        other => return Err(MnemonicError::WordCount(other)),
    };
    let mut entropy = Zeroizing::new([0u8; 32]);
    getrandom::getrandom(&mut entropy[..bytes]).map_err(|_| MnemonicError::Random)?;
    let m = Mnemonic::from_entropy(&entropy[..bytes]).map_err(|_| MnemonicError::Random)?;
    Ok(Sensitive::new(m.to_string()))
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur.push((prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Words of the list close to `typed`: those it begins (for autocomplete), else those within
/// two edits, best first, at most five.
pub fn suggest(typed: &str) -> Vec<&'static str> {
    let t = typed.trim().to_lowercase();
    let list = Language::English.word_list();
    if t.is_empty() {
        return vec![];
    }
    if let Some(w) = list.iter().find(|w| **w == t) {
        return vec![*w];
    }
    let prefixed: Vec<&'static str> = list
        .iter()
        .copied()
        .filter(|w| w.starts_with(&t))
        .take(5)
        .collect();
    if !prefixed.is_empty() {
        return prefixed;
    }
    let mut close: Vec<(usize, &'static str)> = list
        .iter()
        .map(|w| (edit_distance(&t, w), *w))
        .filter(|(d, _)| *d <= 2)
        .collect();
    close.sort();
    close.into_iter().map(|(_, w)| w).take(5).collect()
}

/// Checks a typed phrase: word count, each word, then the checksum.
pub fn parse_mnemonic(text: &str) -> Result<Mnemonic, MnemonicError> {
    let words: Vec<String> = text.split_whitespace().map(str::to_lowercase).collect();
    if ![12, 15, 18, 21, 24].contains(&words.len()) {
        return Err(MnemonicError::WordCount(words.len()));
    }
    let list = Language::English.word_list();
    for (i, w) in words.iter().enumerate() {
        if !list.contains(&w.as_str()) {
            return Err(MnemonicError::UnknownWord {
                position: i + 1,
                suggestions: suggest(w),
            });
        }
    }
    let joined = Zeroizing::new(words.join(" "));
    Mnemonic::parse_in_normalized(Language::English, &joined).map_err(|_| MnemonicError::Checksum)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_count_words_and_checksum_without_echoing_words() {
        assert_eq!(
            parse_mnemonic("abandon about").err(),
            Some(MnemonicError::WordCount(2))
        );
        let typo = "abandon abandon abandon abandon abandon abandonn abandon abandon abandon abandon abandon about";
        match parse_mnemonic(typo) {
            Err(e @ MnemonicError::UnknownWord { position: 6, .. }) => {
                assert!(!e.to_string().contains("abandonn"));
                let MnemonicError::UnknownWord { suggestions, .. } = e else {
                    unreachable!()
                };
                assert_eq!(suggestions.first(), Some(&"abandon"));
            }
            other => panic!("{other:?}"),
        }
        let bad_sum = "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon";
        assert_eq!(parse_mnemonic(bad_sum).err(), Some(MnemonicError::Checksum));
        assert!(parse_mnemonic("  Abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon ABOUT ").is_ok());
    }

    #[test]
    fn suggestions_autocomplete_and_correct() {
        assert_eq!(suggest("zoo"), vec!["zoo"]);
        assert_eq!(suggest("aba"), vec!["abandon"]);
        assert!(suggest("abot").contains(&"about"));
        assert!(suggest("").is_empty());
        assert!(suggest("qqqqqqqq").is_empty());
    }

    #[test]
    fn generated_phrases_are_valid_and_different() {
        let a = generate_mnemonic(12).expect("12");
        let b = generate_mnemonic(24).expect("24");
        assert_eq!(a.expose().split(' ').count(), 12);
        assert_eq!(b.expose().split(' ').count(), 24);
        assert!(parse_mnemonic(a.expose()).is_ok() && parse_mnemonic(b.expose()).is_ok());
        assert_ne!(a.expose(), generate_mnemonic(12).expect("again").expose());
        assert_eq!(
            generate_mnemonic(13).err(),
            Some(MnemonicError::WordCount(13))
        );
    }
}
