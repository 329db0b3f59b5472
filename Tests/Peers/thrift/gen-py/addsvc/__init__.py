__all__ = ['ttypes', 'constants', 'AddService']
