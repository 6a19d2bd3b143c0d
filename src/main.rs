//! The `gatekeeper` binary: everything lives in the library; see `cli`.

fn main() -> std::process::ExitCode {
    gatekeeper::cli::main()
}
