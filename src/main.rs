//! The `proprio` command. Everything lives in the library; see `proprio::app`.

fn main() -> std::process::ExitCode {
    proprio::app::main()
}
