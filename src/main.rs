/// Every freed block is zeroed first (`fieldkit::alloc`): what the server freed holds no secret.
#[global_allocator]
static ALLOC: fieldkit::alloc::Zeroing = fieldkit::alloc::Zeroing;

fn main() {
    std::process::exit(fieldkit::cli::main());
}
