//! Chat templates (`tokenizer.chat_template`, Jinja) rendered with minijinja.

use crate::error::{Error, Result};
use minijinja::{context, Environment, Value};
use std::collections::BTreeMap;

/// One turn of a conversation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub role: String,
    pub content: String,
}

impl Message {
    pub fn new(role: &str, content: &str) -> Message {
        Message {
            role: role.into(),
            content: content.into(),
        }
    }
}

/// A parsed chat template.
#[derive(Debug)]
pub struct ChatTemplate {
    env: Environment<'static>,
}

impl ChatTemplate {
    /// Parses `source`; a syntax error is [`Error::Template`].
    pub fn new(source: &str) -> Result<ChatTemplate> {
        let mut env = Environment::new();
        env.add_template_owned("chat", source.to_string())
            .map_err(|e| Error::Template(e.to_string()))?;
        // what Hugging Face's renderer offers templates beyond Jinja's builtins
        env.add_function(
            "raise_exception",
            |msg: String| -> std::result::Result<Value, minijinja::Error> {
                Err(minijinja::Error::new(
                    minijinja::ErrorKind::InvalidOperation,
                    msg,
                ))
            },
        );
        Ok(ChatTemplate { env })
    }

    /// Renders `messages`, ending with the assistant's opening when `add_generation_prompt`.
    /// `bos_token` and `eos_token` are given to templates that write them.
    pub fn render(
        &self,
        messages: &[Message],
        add_generation_prompt: bool,
        bos_token: &str,
        eos_token: &str,
    ) -> Result<String> {
        let msgs: Vec<BTreeMap<&str, &str>> = messages
            .iter()
            .map(|m| BTreeMap::from([("role", m.role.as_str()), ("content", m.content.as_str())]))
            .collect();
        let t = self
            .env
            .get_template("chat")
            .map_err(|e| Error::Template(e.to_string()))?;
        t.render(context! {
            messages => Value::from_serialize(&msgs),
            add_generation_prompt => add_generation_prompt,
            bos_token => bos_token,
            eos_token => eos_token,
        })
        .map_err(|e| Error::Template(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SmolLM2-Instruct's template, as its GGUF file holds it.
    const SMOLLM2: &str = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

    #[test]
    fn renders_chatml_with_default_system() {
        let t = ChatTemplate::new(SMOLLM2).unwrap();
        let s = t
            .render(&[Message::new("user", "Hi?")], true, "", "")
            .unwrap();
        assert_eq!(
            s,
            "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nHi?<|im_end|>\n<|im_start|>assistant\n"
        );
        let s = t
            .render(
                &[
                    Message::new("system", "Be brief."),
                    Message::new("user", "Hi?"),
                ],
                false,
                "",
                "",
            )
            .unwrap();
        assert_eq!(
            s,
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi?<|im_end|>\n"
        );
    }

    #[test]
    fn syntax_errors_and_raised_exceptions_are_errors() {
        assert!(ChatTemplate::new("{% for %}").is_err());
        let t = ChatTemplate::new("{{ raise_exception('no system role') }}").unwrap();
        let e = t.render(&[], true, "", "").unwrap_err().to_string();
        assert!(e.contains("no system role"), "{e}");
    }
}
