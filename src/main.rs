fn main() {
    std::process::exit(fieldkit::cli::main());
}
