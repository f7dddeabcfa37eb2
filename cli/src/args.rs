//! A small `--name value` argument parser (the CLI has few options; no dependency needed).

/// `--name value` options and the remaining positional arguments.
pub struct Args {
    options: Vec<(String, String)>,
    pub positional: Vec<String>,
}

impl Args {
    pub fn parse(args: &[String], known: &[&str]) -> Result<Self, String> {
        let (mut options, mut positional) = (vec![], vec![]);
        let mut it = args.iter();
        while let Some(a) = it.next() {
            if let Some(name) = a.strip_prefix("--") {
                if !known.contains(&name) {
                    return Err(format!("unknown option --{name}\n{}", crate::USAGE));
                }
                let v = it.next().ok_or(format!("--{name} needs a value"))?;
                options.push((name.to_owned(), v.clone()));
            } else {
                positional.push(a.clone());
            }
        }
        Ok(Self {
            options,
            positional,
        })
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.options
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn parsed<T: std::str::FromStr>(&self, name: &str, default: T) -> Result<T, String> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| format!("--{name} {v}: not a valid value")),
        }
    }
}

impl Args {
    /// Every value given for a repeatable option, in order.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.options
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

impl Args {
    /// A copy with `--split` replaced (the data folder and other options kept).
    pub fn clone_with_split(&self, split: &str) -> Self {
        let mut options: Vec<(String, String)> = self
            .options
            .iter()
            .filter(|(n, _)| n != "split")
            .cloned()
            .collect();
        options.push(("split".into(), split.into()));
        Self {
            options,
            positional: self.positional.clone(),
        }
    }
}
