//! RegexFullMatch (opset 20): whether each string of X fully matches `pattern` (bool, X's shape).
//!
//! The pattern is compiled once by a small backtracking engine supporting the common RE2
//! subset: literals, `.`, classes `[...]` (ranges, negation, escapes), `\w \W \d \D \s \S`
//! (ASCII, as RE2), anchors `^ $ \b \B`, groups `( )` / `(?: )`, alternation `|`, and the
//! quantifiers `* + ? {m} {m,} {m,n}` with lazy `?` forms. Other syntax is rejected when the
//! op is built. A match that needs more than a fixed number of steps is reported as an error.

use crate::prelude::*;
use std::cell::Cell;

#[derive(Debug, Clone)]
enum Item {
    Range(char, char),
    Word(bool),
    Digit(bool),
    Space(bool),
}

#[derive(Debug, Clone)]
enum Node {
    Char(char),
    Any,
    Class(Vec<Item>, bool),
    Start,
    End,
    WordBoundary(bool),
    Concat(Vec<Node>),
    Alt(Vec<Node>),
    Repeat(Box<Node>, usize, Option<usize>, bool),
}

fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c')
}

impl Item {
    fn matches(&self, c: char) -> bool {
        match *self {
            Item::Range(a, b) => a <= c && c <= b,
            Item::Word(neg) => is_word(c) != neg,
            Item::Digit(neg) => c.is_ascii_digit() != neg,
            Item::Space(neg) => is_space(c) != neg,
        }
    }
}

struct Parser<'a> {
    p: &'a [char],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.p.get(self.i).copied()
    }
    fn err<T>(&self, msg: &str) -> Result<T> {
        Err(Error::invalid(format!(
            "RegexFullMatch: {msg} at offset {} of pattern '{}'",
            self.i,
            self.p.iter().collect::<String>()
        )))
    }
    fn alt(&mut self) -> Result<Node> {
        let mut alts = vec![self.concat()?];
        while self.peek() == Some('|') {
            self.i += 1;
            alts.push(self.concat()?);
        }
        Ok(if alts.len() == 1 {
            alts.pop().unwrap_or(Node::Concat(vec![]))
        } else {
            Node::Alt(alts)
        })
    }
    fn concat(&mut self) -> Result<Node> {
        let mut v = vec![];
        while let Some(c) = self.peek() {
            if c == '|' || c == ')' {
                break;
            }
            let atom = self.atom()?;
            v.push(self.quantified(atom)?);
        }
        Ok(Node::Concat(v))
    }
    fn number(&mut self) -> Option<usize> {
        let st = self.i;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
        self.p[st..self.i].iter().collect::<String>().parse().ok()
    }
    /// Parses `{m}`, `{m,}`, `{m,n}` after the `{`; None (position restored) if not one.
    fn braces(&mut self) -> Option<(usize, Option<usize>)> {
        let st = self.i;
        self.i += 1;
        let r = (|| {
            let m = self.number()?;
            let max = if self.peek() == Some(',') {
                self.i += 1;
                if self.peek() == Some('}') {
                    None
                } else {
                    Some(self.number()?)
                }
            } else {
                Some(m)
            };
            (self.peek() == Some('}')).then(|| {
                self.i += 1;
                (m, max)
            })
        })();
        if r.is_none() {
            self.i = st;
        }
        r
    }
    fn quantified(&mut self, mut atom: Node) -> Result<Node> {
        loop {
            let (min, max) = match self.peek() {
                Some('*') => (0, None),
                Some('+') => (1, None),
                Some('?') => (0, Some(1)),
                Some('{') => match self.braces() {
                    Some(q) => {
                        self.i -= 1;
                        q
                    }
                    None => return Ok(atom),
                },
                _ => return Ok(atom),
            };
            self.i += 1;
            if max.is_some_and(|m| m < min) || min > 1000 || max.is_some_and(|m| m > 1000) {
                return self.err("bad repetition bounds");
            }
            let greedy = if self.peek() == Some('?') {
                self.i += 1;
                false
            } else {
                true
            };
            if matches!(atom, Node::Start | Node::End | Node::WordBoundary(_)) {
                return self.err("repetition of an anchor");
            }
            atom = Node::Repeat(Box::new(atom), min, max, greedy);
        }
    }
    fn escape(&mut self, in_class: bool) -> Result<Result<Item, Node>> {
        self.i += 1;
        let Some(c) = self.peek() else {
            return self.err("trailing backslash");
        };
        self.i += 1;
        let lit = |c: char| Ok(Err(Node::Char(c)));
        match c {
            'w' | 'W' => Ok(Ok(Item::Word(c == 'W'))),
            'd' | 'D' => Ok(Ok(Item::Digit(c == 'D'))),
            's' | 'S' => Ok(Ok(Item::Space(c == 'S'))),
            'b' | 'B' if !in_class => Ok(Err(Node::WordBoundary(c == 'B'))),
            'n' => lit('\n'),
            't' => lit('\t'),
            'r' => lit('\r'),
            'f' => lit('\x0c'),
            'v' => lit('\x0b'),
            c if c.is_ascii_alphanumeric() => self.err(&format!("unsupported escape \\{c}")),
            c => lit(c),
        }
    }
    fn class(&mut self) -> Result<Node> {
        self.i += 1; // '['
        let neg = self.peek() == Some('^');
        if neg {
            self.i += 1;
        }
        let mut items = vec![];
        let mut first = true;
        loop {
            let Some(c) = self.peek() else {
                return self.err("unterminated class");
            };
            if c == ']' && !first {
                self.i += 1;
                break;
            }
            first = false;
            let lo = if c == '\\' {
                match self.escape(true)? {
                    Ok(item) => {
                        items.push(item);
                        continue;
                    }
                    Err(Node::Char(ch)) => ch,
                    Err(_) => return self.err("bad escape in class"),
                }
            } else {
                self.i += 1;
                c
            };
            if self.peek() == Some('-') && self.p.get(self.i + 1).is_some_and(|&n| n != ']') {
                self.i += 1;
                let hi = if self.peek() == Some('\\') {
                    match self.escape(true)? {
                        Err(Node::Char(ch)) => ch,
                        _ => return self.err("bad class range"),
                    }
                } else {
                    let h = self.peek().unwrap_or(lo);
                    self.i += 1;
                    h
                };
                if hi < lo {
                    return self.err("reversed class range");
                }
                items.push(Item::Range(lo, hi));
            } else {
                items.push(Item::Range(lo, lo));
            }
        }
        Ok(Node::Class(items, neg))
    }
    fn atom(&mut self) -> Result<Node> {
        let Some(c) = self.peek() else {
            return self.err("unexpected end");
        };
        match c {
            '(' => {
                self.i += 1;
                if self.peek() == Some('?') {
                    if self.p.get(self.i + 1) == Some(&':') {
                        self.i += 2;
                    } else {
                        return self.err("unsupported group flags");
                    }
                }
                let n = self.alt()?;
                if self.peek() != Some(')') {
                    return self.err("missing ')'");
                }
                self.i += 1;
                Ok(n)
            }
            '[' => self.class(),
            '.' => {
                self.i += 1;
                Ok(Node::Any)
            }
            '^' => {
                self.i += 1;
                Ok(Node::Start)
            }
            '$' => {
                self.i += 1;
                Ok(Node::End)
            }
            '\\' => Ok(match self.escape(false)? {
                Ok(item) => Node::Class(vec![item], false),
                Err(n) => n,
            }),
            '*' | '+' | '?' => self.err("repetition without operand"),
            c => {
                self.i += 1;
                Ok(Node::Char(c))
            }
        }
    }
}

/// Upper bound on matcher steps per string.
const MAX_STEPS: usize = 10_000_000;
/// Upper bound on nested matcher calls (the recursion runs on a thread with [`STACK`] bytes).
const MAX_DEPTH: usize = 100_000;
const STACK: usize = 1 << 30;

struct Matcher<'a> {
    s: &'a [char],
    steps: Cell<usize>,
    depth: Cell<usize>,
    /// Set when a limit stopped the search.
    gave_up: Cell<bool>,
}

impl Matcher<'_> {
    fn m(&self, n: &Node, i: usize, k: &mut dyn FnMut(usize) -> bool) -> bool {
        self.steps.set(self.steps.get() + 1);
        if self.steps.get() > MAX_STEPS || self.depth.get() > MAX_DEPTH {
            self.gave_up.set(true);
            return false;
        }
        self.depth.set(self.depth.get() + 1);
        let r = self.m_inner(n, i, k);
        self.depth.set(self.depth.get() - 1);
        r
    }
    fn m_inner(&self, n: &Node, i: usize, k: &mut dyn FnMut(usize) -> bool) -> bool {
        let s = self.s;
        match n {
            Node::Char(c) => s.get(i) == Some(c) && k(i + 1),
            Node::Any => s.get(i).is_some_and(|&c| c != '\n') && k(i + 1),
            Node::Class(items, neg) => {
                s.get(i)
                    .is_some_and(|&c| items.iter().any(|it| it.matches(c)) != *neg)
                    && k(i + 1)
            }
            Node::Start => i == 0 && k(i),
            Node::End => i == s.len() && k(i),
            Node::WordBoundary(neg) => {
                let a = i > 0 && is_word(s[i - 1]);
                let b = s.get(i).is_some_and(|&c| is_word(c));
                ((a != b) != *neg) && k(i)
            }
            Node::Concat(v) => self.seq(v, i, k),
            Node::Alt(v) => v.iter().any(|a| self.m(a, i, k)),
            Node::Repeat(a, min, max, greedy) => self.rep(a, *min, *max, *greedy, 0, i, k),
        }
    }
    fn seq(&self, v: &[Node], i: usize, k: &mut dyn FnMut(usize) -> bool) -> bool {
        match v.split_first() {
            None => k(i),
            Some((h, t)) => self.m(h, i, &mut |j| self.seq(t, j, k)),
        }
    }
    #[allow(clippy::too_many_arguments)]
    fn rep(
        &self,
        a: &Node,
        min: usize,
        max: Option<usize>,
        greedy: bool,
        count: usize,
        i: usize,
        k: &mut dyn FnMut(usize) -> bool,
    ) -> bool {
        let can_more = max.is_none_or(|m| count < m);
        let more = |k: &mut dyn FnMut(usize) -> bool| {
            // an iteration that consumes nothing ends the repetition once min is reached
            can_more
                && self.m(a, i, &mut |j| {
                    if j == i && count >= min {
                        false
                    } else {
                        self.rep(a, min, max, greedy, count + 1, j, k)
                    }
                })
        };
        if greedy {
            more(k) || (count >= min && k(i))
        } else {
            (count >= min && k(i)) || more(k)
        }
    }
}

#[derive(Debug)]
pub struct RegexFullMatch {
    re: Node,
}

pub fn register(r: &mut Registry) {
    r.register("", "RegexFullMatch", |c| {
        let pat: Vec<char> = c.attrs.req_string("pattern")?.chars().collect();
        let mut p = Parser { p: &pat, i: 0 };
        let re = p.alt()?;
        if p.i != pat.len() {
            return p.err("unbalanced ')'");
        }
        Ok(Box::new(RegexFullMatch { re }))
    });
}

impl RegexFullMatch {
    fn full_match(&self, s: &str) -> Result<bool> {
        let chars: Vec<char> = s.chars().collect();
        let m = Matcher {
            s: &chars,
            steps: Cell::new(0),
            depth: Cell::new(0),
            gave_up: Cell::new(false),
        };
        let n = chars.len();
        let r = m.m(&self.re, 0, &mut |j| j == n);
        ensure!(
            r || !m.gave_up.get(),
            "RegexFullMatch: pattern too expensive on an input of {n} chars"
        );
        Ok(r)
    }
}

impl Op for RegexFullMatch {
    fn op_type(&self) -> &str {
        "RegexFullMatch"
    }
    fn eval(&self, _: &EvalCtx, inputs: Vec<Option<Tensor>>) -> Result<Vec<Tensor>> {
        let x = req(&inputs, 0)?;
        let xs = x
            .as_slice::<String>()
            .map_err(|_| Error::dtype(x.dtype(), "RegexFullMatch: input must be strings"))?;
        // the backtracking recursion gets a large dedicated stack
        let v: Vec<bool> = std::thread::scope(|sc| {
            std::thread::Builder::new()
                .stack_size(STACK)
                .spawn_scoped(sc, || {
                    xs.iter()
                        .map(|s| self.full_match(s))
                        .collect::<Result<Vec<bool>>>()
                })
                .map_err(|e| {
                    Error::invalid(format!("RegexFullMatch: cannot start matcher thread: {e}"))
                })?
                .join()
                .map_err(|_| Error::invalid("RegexFullMatch: matcher thread panicked"))?
        })?;
        Ok(vec![Tensor::from_vec(x.shape().to_vec(), v)?])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    fn re(p: &str) -> RegexFullMatch {
        let pat: Vec<char> = p.chars().collect();
        let mut ps = Parser { p: &pat, i: 0 };
        let re = ps.alt().unwrap();
        assert_eq!(ps.i, pat.len());
        RegexFullMatch { re }
    }
    #[test]
    fn basics() {
        let r = re(r"www\.[\w.-]+\.\bcom\b");
        assert!(r.full_match("www.google.com").unwrap());
        assert!(!r.full_match("www.bbc.co.uk").unwrap());
        let e = re(r"(\W|^)[\w.\-]{0,25}@(yahoo|gmail)\.com(\W|$)");
        assert!(e.full_match("account@gmail.com").unwrap());
        assert!(!e.full_match("account@hotmail.com").unwrap());
        assert!(re("a*?b|c{2,3}").full_match("ccc").unwrap());
        assert!(!re("a{2}").full_match("aaa").unwrap());
        assert!(re("[^0-9]+x?").full_match("abc").unwrap());
        assert!(re("(a*)*b").full_match("aaab").unwrap());
        assert!(!re("(a|aa)*c").full_match(&"a".repeat(20)).unwrap_or(false));
    }
    #[test]
    fn long_input_through_op() {
        // 200k chars: deep recursion stays within the dedicated stack or reports an error
        let op = re(".*x");
        let x = Tensor::from_vec(vec![2], vec!["ab".repeat(100_000), "abx".to_string()]).unwrap();
        let r = op.eval(
            &EvalCtx {
                n_outputs: 1,
                subgraphs: &NoSub,
            },
            vec![Some(x)],
        );
        if let Ok(r) = r {
            assert_eq!(r[0].as_slice::<bool>().unwrap(), &[false, true]);
        }
    }
    struct NoSub;
    impl smelt_ir::op::SubgraphRunner for NoSub {
        fn run(&self, _: &Graph, _: Vec<Tensor>) -> Result<Vec<Tensor>> {
            bail!("no subgraphs")
        }
    }
    #[test]
    fn bad_patterns() {
        for p in ["(a", "a)", "*a", "[a", r"\q", "a{3,2}"] {
            let pat: Vec<char> = p.chars().collect();
            let mut ps = Parser { p: &pat, i: 0 };
            let ok = ps.alt().is_ok() && ps.i == pat.len();
            assert!(!ok, "{p} should fail");
        }
    }
}
