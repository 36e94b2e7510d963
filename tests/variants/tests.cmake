# The sm80 variant tests run the CUDA templates on the CPU emulator: the same shadow template
# folder as tests/emu (emu_shadow.cmake, included for tests/emu before this folder).
if(TARGET test_variants AND DEFINED emu_shadow)
  target_include_directories(test_variants BEFORE PRIVATE ${emu_shadow})
endif()
