//! The syntax of IMAP4rev2 that imap-codec does not parse yet, taken out
//! of a command before it does: LIST with selection and return options
//! (LIST-EXTENDED, RFC 5258; LIST-STATUS, RFC 5819) and SEARCH with
//! return options (ESEARCH, RFC 4731), with `SAVE` and `$` (SEARCHRES,
//! RFC 5182).
//!
//! A complete command (its literals included, as the fragmentizer gathered
//! it) is split into tokens; only the commands that use the extended
//! syntax are taken, everything else goes to imap-codec unchanged.

/// Most tokens looked at in one command (a LIST or SEARCH has far fewer).
const MAX_TOKENS: usize = 4096;

/// One token of a command.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    /// An atom (also a number, `*`, `%`, `\Flag`, `BODY[...]`).
    Atom(Vec<u8>),
    /// A quoted string or a literal: a string in any case.
    String(Vec<u8>),
    Open,
    Close,
}

/// A token with where it starts and ends in the command.
struct Lexed {
    token: Token,
    start: usize,
    end: usize,
}

/// What LIST-EXTENDED asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct ListExtended {
    /// The reference name.
    pub(super) reference: String,
    /// One or more patterns.
    pub(super) patterns: Vec<String>,
    /// Selection `SUBSCRIBED`: subscribed mailboxes only.
    pub(super) subscribed: bool,
    /// Selection `SPECIAL-USE`: special-use mailboxes only (RFC 6154).
    pub(super) special_use: bool,
    /// Selection `RECURSIVEMATCH`: also parents whose children are
    /// selected, with `CHILDINFO`.
    pub(super) recursive: bool,
    /// Return `SUBSCRIBED` (implied by the selection): `\Subscribed`.
    pub(super) return_subscribed: bool,
    /// Return `STATUS (...)`: the items, upper-case (RFC 5819).
    pub(super) status: Option<Vec<String>>,
}

/// What ESEARCH's return options ask for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct SearchReturn {
    pub(super) min: bool,
    pub(super) max: bool,
    pub(super) all: bool,
    pub(super) count: bool,
    /// Keep the result for `$` (RFC 5182).
    pub(super) save: bool,
}

impl SearchReturn {
    /// `RETURN ()` means `RETURN (ALL)` (RFC 4731 §3.1); `SAVE` alone
    /// answers nothing (RFC 5182 §2.4).
    fn or_all(mut self) -> Self {
        if !(self.min || self.max || self.count || self.save) {
            self.all = true;
        }
        self
    }

    /// Whether an ESEARCH response is due.
    pub(super) fn answers(&self) -> bool {
        self.min || self.max || self.all || self.count
    }
}

/// Set for a UID `$` that names nothing: no message has this UID.
const NO_UID: &str = "4294967295";

/// `message` with each `$` (RFC 5182) replaced by the saved result:
/// `uids` where UIDs are meant (UID commands, `UID $` in SEARCH),
/// `numbers` (their sequence numbers now) elsewhere. An empty result
/// becomes a UID that does not exist, so that nothing is named; `None`
/// if there is no `$`.
pub(super) fn with_saved(message: &[u8], uids: &[u32], numbers: &[u32]) -> Option<Vec<u8>> {
    let takes_set = matches!(
        command_name(message)?.as_str(),
        "FETCH" | "STORE" | "COPY" | "MOVE" | "SEARCH" | "EXPUNGE"
    );
    if !takes_set || !message.contains(&b'$') {
        return None;
    }
    let tokens = lex(message)?;
    let is_dollar = |t: &Lexed| t.token == Token::Atom(b"$".to_vec());
    if !tokens.iter().any(is_dollar) {
        return None;
    }
    let uid_command = atom_is(tokens.get(1), "UID");
    let search = atom_is(tokens.get(if uid_command { 2 } else { 1 }), "SEARCH");
    let mut out = Vec::with_capacity(message.len());
    let mut copied = 0;
    for (index, token) in tokens.iter().enumerate() {
        if !is_dollar(token) {
            continue;
        }
        let after_uid = index > 0 && atom_is(tokens.get(index - 1), "UID");
        let by_uid = if search { after_uid } else { uid_command };
        let replacement = match (by_uid, uids.is_empty(), numbers.is_empty()) {
            (true, false, _) => super::sequence::compact(uids),
            (true, true, _) => NO_UID.to_owned(),
            (false, _, false) => super::sequence::compact(numbers),
            // Nothing by number: name a UID that does not exist instead.
            (false, _, true) if search => format!("UID {NO_UID}"),
            (false, _, true) => NO_UID.to_owned(),
        };
        out.extend_from_slice(message.get(copied..token.start)?);
        out.extend_from_slice(replacement.as_bytes());
        copied = token.end;
    }
    out.extend_from_slice(message.get(copied..)?);
    // A command by number with nothing saved becomes the UID command.
    if !search && !uid_command && numbers.is_empty() {
        // `$` follows the command name, so what precedes it is unchanged.
        let command = tokens.get(1)?.start;
        let mut prefixed = out.get(..command)?.to_vec();
        prefixed.extend_from_slice(b"UID ");
        prefixed.extend_from_slice(out.get(command..)?);
        return Some(prefixed);
    }
    Some(out)
}

/// A command in extended syntax.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Extended {
    /// LIST-EXTENDED, to be answered here.
    List { tag: String, list: ListExtended },
    /// SEARCH with return options; `command` is the same SEARCH without
    /// them, for imap-codec.
    Search {
        returns: SearchReturn,
        command: Vec<u8>,
    },
    /// Extended syntax used wrongly: BAD with this text.
    Bad { tag: String, why: &'static str },
}

/// The command's name (after the tag, and after `UID`), upper-case, read
/// without tokenizing the whole command (an APPEND may carry megabytes).
fn command_name(message: &[u8]) -> Option<String> {
    let head = message.get(..message.len().min(128))?;
    let mut words = head
        .split(|&b| b == b' ' || b == b'\r' || b == b'\n')
        .filter(|w| !w.is_empty());
    words.next()?;
    let mut name = words.next()?;
    if name.eq_ignore_ascii_case(b"UID") {
        name = words.next()?;
    }
    Some(String::from_utf8_lossy(name).to_ascii_uppercase())
}

/// The extended command in `message`, if it is one.
pub(super) fn parse(message: &[u8]) -> Option<Extended> {
    if !matches!(command_name(message)?.as_str(), "LIST" | "SEARCH") {
        return None;
    }
    let tokens = lex(message)?;
    let tag = match tokens.first()?.token {
        Token::Atom(ref tag) => String::from_utf8(tag.clone()).ok()?,
        _ => return None,
    };
    let mut at = 1;
    let uid = atom_is(tokens.get(at), "UID");
    if uid {
        at += 1;
    }
    let command = tokens.get(at)?;
    if atom_is(Some(command), "LIST") && !uid {
        return match list(tokens.get(at + 1..)?) {
            Ok(Some(list)) => Some(Extended::List { tag, list }),
            Ok(None) => None,
            Err(why) => Some(Extended::Bad { tag, why }),
        };
    }
    if atom_is(Some(command), "SEARCH") && atom_is(tokens.get(at + 1), "RETURN") {
        let (returns, close) = match search_return(tokens.get(at + 2..)?) {
            Ok(found) => found,
            Err(why) => return Some(Extended::Bad { tag, why }),
        };
        let first = tokens.get(at + 1)?.start;
        let after = tokens.get(at + 2 + close)?.end;
        // The criteria begin after the space that follows `)`.
        let rest = message.get(after..)?;
        let rest = rest.strip_prefix(b" ").unwrap_or(rest);
        let mut command = message.get(..first)?.to_vec();
        command.extend_from_slice(rest);
        return Some(Extended::Search { returns, command });
    }
    None
}

/// The tag a command begins with, if it has a valid one.
pub(super) fn tag_of(message: &[u8]) -> Option<String> {
    let end = message.iter().position(|&b| b == b' ')?;
    let tag = std::str::from_utf8(message.get(..end)?).ok()?;
    imap_types::core::Tag::try_from(tag).ok()?;
    Some(tag.to_owned())
}

fn atom_is(token: Option<&Lexed>, word: &str) -> bool {
    matches!(token, Some(Lexed { token: Token::Atom(atom), .. }) if atom.eq_ignore_ascii_case(word.as_bytes()))
}

/// The tokens of a command up to its final CRLF; `None` if it is not
/// well formed (imap-codec then says what is wrong).
fn lex(input: &[u8]) -> Option<Vec<Lexed>> {
    let mut tokens = Vec::new();
    let mut at = 0;
    while at < input.len() {
        if tokens.len() >= MAX_TOKENS {
            return None;
        }
        let start = at;
        let token = match *input.get(at)? {
            b' ' => {
                at += 1;
                continue;
            }
            b'\r' | b'\n' => break,
            b'(' => {
                at += 1;
                Token::Open
            }
            b')' => {
                at += 1;
                Token::Close
            }
            b'"' => {
                let mut text = Vec::new();
                at += 1;
                loop {
                    match *input.get(at)? {
                        b'"' => break,
                        b'\\' => {
                            text.push(*input.get(at + 1)?);
                            at += 2;
                        }
                        b'\r' | b'\n' => return None,
                        byte => {
                            text.push(byte);
                            at += 1;
                        }
                    }
                }
                at += 1;
                Token::String(text)
            }
            b'{' => {
                let close = at + input.get(at..)?.iter().position(|&b| b == b'}')?;
                let digits = input.get(at + 1..close)?;
                let digits = digits.strip_suffix(b"+").unwrap_or(digits);
                let length: usize = std::str::from_utf8(digits).ok()?.parse().ok()?;
                let begin = close + 1 + input.get(close + 1..)?.strip_prefix(b"\r\n").map(|_| 2)?;
                let end = begin.checked_add(length)?;
                let text = input.get(begin..end)?.to_vec();
                at = end;
                Token::String(text)
            }
            _ => {
                let length = input
                    .get(at..)?
                    .iter()
                    .position(|b| b" ()\"{\r\n".contains(b))
                    .unwrap_or(input.len() - at);
                let atom = input.get(at..at + length)?.to_vec();
                at += length;
                Token::Atom(atom)
            }
        };
        tokens.push(Lexed {
            token,
            start,
            end: at,
        });
    }
    Some(tokens)
}

/// A mailbox name or pattern: an atom or a string.
fn text(token: &Lexed) -> Option<String> {
    match &token.token {
        Token::Atom(bytes) | Token::String(bytes) => String::from_utf8(bytes.clone()).ok(),
        Token::Open | Token::Close => None,
    }
}

/// Atoms up to the `)` that closes a list opened before `tokens`, and
/// how many tokens that took (the `)` included).
fn atoms(tokens: &[Lexed]) -> Result<(Vec<String>, usize), &'static str> {
    let mut words = Vec::new();
    for (index, token) in tokens.iter().enumerate() {
        match &token.token {
            Token::Close => return Ok((words, index + 1)),
            Token::Atom(atom) => {
                words.push(String::from_utf8_lossy(atom).to_ascii_uppercase());
            }
            _ => return Err("Expected options"),
        }
    }
    Err("Unclosed list")
}

/// The arguments of LIST; `None` for the plain form of RFC 3501.
fn list(tokens: &[Lexed]) -> Result<Option<ListExtended>, &'static str> {
    let mut list = ListExtended::default();
    let mut at = 0;
    let mut extended = false;
    if tokens.first().map(|t| &t.token) == Some(&Token::Open) {
        extended = true;
        let (options, used) = atoms(tokens.get(1..).unwrap_or_default())?;
        at = 1 + used;
        for option in options {
            match option.as_str() {
                "SUBSCRIBED" => {
                    list.subscribed = true;
                    list.return_subscribed = true;
                }
                "SPECIAL-USE" => list.special_use = true,
                "RECURSIVEMATCH" => list.recursive = true,
                // Mailboxes on other servers: there are none.
                "REMOTE" => {}
                _ => return Err("Unknown LIST selection option"),
            }
        }
        // RFC 5258 §3: RECURSIVEMATCH needs another selection option.
        if list.recursive && !list.subscribed && !list.special_use {
            return Err("RECURSIVEMATCH needs another selection option");
        }
    }
    list.reference = tokens
        .get(at)
        .and_then(text)
        .ok_or("Expected a reference")?;
    at += 1;
    match tokens.get(at) {
        Some(Lexed {
            token: Token::Open, ..
        }) => {
            extended = true;
            at += 1;
            loop {
                match tokens.get(at) {
                    Some(Lexed {
                        token: Token::Close,
                        ..
                    }) => break,
                    Some(token) => {
                        list.patterns.push(text(token).ok_or("Expected a pattern")?);
                    }
                    None => return Err("Unclosed list of patterns"),
                }
                at += 1;
            }
            at += 1;
        }
        Some(token) => {
            list.patterns.push(text(token).ok_or("Expected a pattern")?);
            at += 1;
        }
        None => return Err("Expected a pattern"),
    }
    if atom_is(tokens.get(at), "RETURN") {
        extended = true;
        if tokens.get(at + 1).map(|t| &t.token) != Some(&Token::Open) {
            return Err("RETURN needs a list");
        }
        at += 2;
        loop {
            let Some(token) = tokens.get(at) else {
                return Err("Unclosed RETURN list");
            };
            at += 1;
            match &token.token {
                Token::Close => break,
                Token::Atom(option) => match option.to_ascii_uppercase().as_slice() {
                    b"SUBSCRIBED" => list.return_subscribed = true,
                    // Given always.
                    b"CHILDREN" | b"SPECIAL-USE" => {}
                    b"STATUS" => {
                        if tokens.get(at).map(|t| &t.token) != Some(&Token::Open) {
                            return Err("STATUS needs a list");
                        }
                        let (items, used) = atoms(tokens.get(at + 1..).unwrap_or_default())?;
                        at += 1 + used;
                        list.status = Some(items);
                    }
                    _ => return Err("Unknown LIST return option"),
                },
                _ => return Err("Expected return options"),
            }
        }
    }
    if at != tokens.len() {
        return Err("Unexpected arguments to LIST");
    }
    Ok(extended.then_some(list))
}

/// `(MIN MAX ALL COUNT)` after SEARCH RETURN: the options, and how many
/// tokens they took before the `)` (counting from the `(`).
fn search_return(tokens: &[Lexed]) -> Result<(SearchReturn, usize), &'static str> {
    if tokens.first().map(|t| &t.token) != Some(&Token::Open) {
        return Err("RETURN needs a list");
    }
    let (options, used) = atoms(tokens.get(1..).unwrap_or_default())?;
    let mut returns = SearchReturn::default();
    for option in options {
        match option.as_str() {
            "MIN" => returns.min = true,
            "MAX" => returns.max = true,
            "ALL" => returns.all = true,
            "COUNT" => returns.count = true,
            "SAVE" => returns.save = true,
            _ => return Err("Unknown SEARCH return option"),
        }
    }
    Ok((returns.or_all(), used))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list_of(command: &str) -> ListExtended {
        match parse(command.as_bytes()) {
            Some(Extended::List { list, .. }) => list,
            other => panic!("{command}: {other:?}"),
        }
    }

    #[test]
    fn plain_commands_go_to_the_codec() {
        for command in [
            "a LIST \"\" \"*\"\r\n",
            "a LIST \"\" %\r\n",
            "a SEARCH ALL\r\n",
            "a UID FETCH 1:* (FLAGS)\r\n",
            "a APPEND INBOX {3}\r\nabc\r\n",
        ] {
            assert_eq!(parse(command.as_bytes()), None, "{command}");
        }
    }

    #[test]
    fn list_extended_and_list_status() {
        let list = list_of(
            "a1 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (\"INBOX\" Akten/%) RETURN (CHILDREN STATUS (MESSAGES unseen))\r\n",
        );
        assert_eq!(
            list,
            ListExtended {
                reference: String::new(),
                patterns: vec!["INBOX".into(), "Akten/%".into()],
                subscribed: true,
                special_use: false,
                recursive: true,
                return_subscribed: true,
                status: Some(vec!["MESSAGES".into(), "UNSEEN".into()]),
            }
        );
        let list = list_of("a2 LIST \"\" {1}\r\n*  RETURN (SPECIAL-USE)\r\n");
        assert_eq!(list.patterns, ["*"]);
        assert_eq!(
            parse(b"a3 LIST (RECURSIVEMATCH) \"\" *\r\n"),
            Some(Extended::Bad {
                tag: "a3".into(),
                why: "RECURSIVEMATCH needs another selection option"
            })
        );
        assert!(matches!(
            parse(b"a4 LIST \"\" * RETURN (STATUS (MESSAGES)\r\n"),
            Some(Extended::Bad { .. })
        ));
    }

    #[test]
    fn search_return_options_are_taken_out() {
        assert_eq!(
            parse(b"t UID SEARCH RETURN (MIN COUNT) SUBJECT \"(x)\"\r\n"),
            Some(Extended::Search {
                returns: SearchReturn {
                    min: true,
                    count: true,
                    ..SearchReturn::default()
                },
                command: b"t UID SEARCH SUBJECT \"(x)\"\r\n".to_vec(),
            })
        );
        assert_eq!(
            parse(b"t SEARCH RETURN () ALL\r\n"),
            Some(Extended::Search {
                returns: SearchReturn {
                    all: true,
                    ..SearchReturn::default()
                },
                command: b"t SEARCH ALL\r\n".to_vec(),
            })
        );
    }

    #[test]
    fn saved_results_stand_in_for_dollar() {
        let fetch = b"a FETCH $ (FLAGS)\r\n";
        assert_eq!(
            with_saved(fetch, &[4, 5, 9], &[2, 3, 5]).unwrap(),
            b"a FETCH 2:3,5 (FLAGS)\r\n"
        );
        assert_eq!(
            with_saved(b"a UID STORE $ +FLAGS (\\Seen)\r\n", &[4, 5, 9], &[2, 3, 5]).unwrap(),
            b"a UID STORE 4:5,9 +FLAGS (\\Seen)\r\n"
        );
        assert_eq!(
            with_saved(b"a SEARCH UID $ $ SUBJECT \"$\"\r\n", &[4], &[2]).unwrap(),
            b"a SEARCH UID 4 2 SUBJECT \"$\"\r\n"
        );
        assert_eq!(
            with_saved(fetch, &[], &[]).unwrap(),
            b"a UID FETCH 4294967295 (FLAGS)\r\n"
        );
        assert_eq!(
            with_saved(b"a SEARCH $\r\n", &[], &[]).unwrap(),
            b"a SEARCH UID 4294967295\r\n"
        );
        assert_eq!(with_saved(b"a FETCH 1 (FLAGS)\r\n", &[1], &[1]), None);
    }

    #[test]
    fn broken_input_is_left_to_the_codec() {
        for input in [&b"\"unclosed"[..], b"a LIST {99}\r\nab", b"{x}\r\n", b""] {
            assert_eq!(parse(input), None);
        }
    }
}
