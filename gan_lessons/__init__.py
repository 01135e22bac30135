"""gan_lessons: the small, tested library behind the GAN Lessons notebooks."""

__version__ = "0.1.0"
