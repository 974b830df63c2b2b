//! `type: kubectl`: `kubectl <metadata.cmd split on whitespace>`, synchronously, like Flagger's
//! load tester (no shell, so no pipes or quoting). A leading `kubectl` word in `cmd` is accepted
//! and dropped, since people write it either way.

/// The arguments passed to kubectl for a `cmd` value.
pub fn args(cmd: &str) -> Vec<String> {
    let mut args: Vec<String> = cmd.split_whitespace().map(str::to_owned).collect();
    if args.first().is_some_and(|a| a == "kubectl") {
        args.remove(0);
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_on_whitespace_and_drops_leading_kubectl() {
        assert_eq!(
            args("get  deploy podinfo -n test"),
            ["get", "deploy", "podinfo", "-n", "test"]
        );
        assert_eq!(args("kubectl version --client"), ["version", "--client"]);
    }
}
