fn main() -> std::process::ExitCode {
    assessment_partner::cli::main()
}
